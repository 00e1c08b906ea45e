#!/usr/bin/env node
// A stand-in for llama.cpp's llama-bench in tests: reads -m -t -p -n -r like it, checks
// `-o json`, and prints records in llama-bench's JSON format (one prompt-processing and one
// text-generation record per thread count), with made-up but plausible rates.
import { basename } from 'node:path';

const args = process.argv.slice(2);
const arg = (flag) => args[args.indexOf(flag) + 1];
if (arg('-o') !== 'json') {
  process.stderr.write('fake llama-bench: only -o json\n');
  process.exit(1);
}
const reps = Number(arg('-r') ?? 5);
const record = (threads, nPrompt, nGen, rate) => ({
  build_commit: 'fake', build_number: 0, cpu_info: 'test', gpu_info: '', backends: 'CPU',
  model_filename: arg('-m'), model_type: `llama ?B all F32 (${basename(arg('-m'))})`,
  model_size: 1185376, model_n_params: 292352, n_batch: 2048, n_ubatch: 512,
  n_threads: threads, type_k: 'f16', type_v: 'f16', n_gpu_layers: 0, n_prompt: nPrompt,
  n_gen: nGen, n_depth: 0, test_time: '2026-01-01T00:00:00Z', avg_ns: 1e9 / rate,
  stddev_ns: 0, avg_ts: rate, stddev_ts: 0,
  samples_ns: Array.from({ length: reps }, () => 1e9 / rate),
  samples_ts: Array.from({ length: reps }, (_, i) => rate + i),
});
const out = [];
for (const t of arg('-t').split(',').map(Number)) {
  out.push(record(t, Number(arg('-p')), 0, 1000 * t), record(t, 0, Number(arg('-n')), 500 * t));
}
process.stdout.write(JSON.stringify(out, null, 2) + '\n');
