// run.c encode() on top of Tokenizers.js (@huggingface/tokenizers): a synthesized
// tokenizer.json for a SentencePiece-BPE vocabulary that carries scores, not merges.
//
// run.c merges, until nothing merges, the adjacent pair whose concatenation is the
// highest-scoring vocab piece (leftmost on ties). The same thing as a ranked merge list, the
// way HF's SentencePiece converter builds one:
//   piece "abc" (score s) → merges ("a","bc") and ("ab","c"), each pair whose halves are both
//   pieces, all ranked by s (higher first; then left id, right id).
// Tokenizers.js runs ranked merges with a heap and breaks rank ties leftmost, and its BPE
// byte fallback maps a codepoint that is no piece to `<0xXX>` byte tokens, as run.c does.
//
// Pipeline: normalizer Prepend(' ') (run.c's dummy prefix; the caller skips empty text),
// no pre-tokenizer (run.c merges across the whole text), BPE with byte_fallback.
// Pieces keep ' ' for spaces, so a literal "▁" in the text falls back to bytes as in run.c.
//
// Where the two could differ, and why they do not on these vocabularies:
//   - two *different* pairs of equal score compete by rank, not by position. Equal scores
//     occur for the 16 whitespace-run pieces of the 32000 vocab (all -1e9). The tie order
//     (left id, then right id, ascending) is load-bearing: reversed, runs of 16+ spaces
//     diverge from run.c; as written, test/tokenizer/reference.test.ts finds no divergence
//     from a direct run.c port (runs up to 300 spaces were also checked by hand).
//   - run.c never merges into a piece scored ≤ -1e10 (its initial best); such merges are
//     left out of the list below for the same effect.
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import type { Vocab } from './sentencepiece.js';

/** run.c starts its search for the best merge at this score, so lower ones never merge. */
const RUNC_NO_MERGE = -1e10;

interface Merge {
  left: string;
  right: string;
  score: number; // score of left + right, the piece the merge produces
  leftId: number;
  rightId: number;
}

/** The id of each piece; on a duplicate piece the first id wins. */
function pieceIds(pieces: string[]): Map<string, number> {
  const ids = new Map<string, number>();
  pieces.forEach((piece, id) => {
    if (!ids.has(piece)) ids.set(piece, id);
  });
  return ids;
}

/** Every split of every piece into two pieces, best merged score first. */
export function deriveMerges(vocab: Vocab, ids = pieceIds(vocab.pieces)): Merge[] {
  const merges: Merge[] = [];
  vocab.pieces.forEach((piece, id) => {
    const score = vocab.scores[id]!;
    if (score <= RUNC_NO_MERGE) return;
    // split between codepoints, never inside a surrogate pair
    const chars = Array.from(piece);
    let left = '';
    for (let k = 1; k < chars.length; k++) {
      left += chars[k - 1];
      const right = piece.slice(left.length);
      const leftId = ids.get(left);
      const rightId = ids.get(right);
      if (leftId !== undefined && rightId !== undefined) {
        merges.push({ left, right, score, leftId, rightId });
      }
    }
  });
  return merges.sort((a, b) => b.score - a.score || a.leftId - b.leftId || a.rightId - b.rightId);
}

/** The tokenizer.json object Tokenizers.js loads for `vocab`. */
function tokenizerJson(vocab: Vocab): object {
  const ids = pieceIds(vocab.pieces);
  // a null-prototype object, so that a piece named "__proto__" stays an ordinary key
  const hfVocab: Record<string, number> = Object.create(null);
  for (const [piece, id] of ids) hfVocab[piece] = id;
  return {
    added_tokens: [],
    normalizer: { type: 'Prepend', prepend: ' ' },
    pre_tokenizer: null,
    model: {
      type: 'BPE',
      vocab: hfVocab,
      merges: deriveMerges(vocab, ids).map((m) => [m.left, m.right]),
      byte_fallback: true,
      unk_token: vocab.pieces[vocab.unk],
      ignore_merges: false,
    },
    post_processor: null,
    decoder: null,
  };
}

/** run.c encode() of non-empty `text` without BOS: dummy prefix, lookup, fallback, merges. */
export function buildHfEncoder(vocab: Vocab): (text: string) => number[] {
  const hf = new HfTokenizer(tokenizerJson(vocab), {});
  return (text) => hf.encode(text, { add_special_tokens: false }).ids;
}
