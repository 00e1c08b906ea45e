// The tokenizer package: run.c-exact SentencePiece-BPE tokenizers from llama2.c tokenizer
// files or GGUF metadata. See docs/tokenizer.md for how encoding is built and checked.
export type { Tokenizer } from './types.js';
export { loadLlama2cTokenizer, loadLlama2cVocab } from './llama2c.js';
export type { Vocab } from './sentencepiece.js';
export { tokenizerFromGguf } from './gguf.js';
