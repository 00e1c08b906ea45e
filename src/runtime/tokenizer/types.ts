// The tokenizer contract the generation loop relies on (llama2.c run.c semantics).

export interface Tokenizer {
  readonly vocabSize: number;
  readonly bos: number;
  readonly eos: number;
  /** Token ids for `text`; with `bos` (default true) the BOS id comes first. */
  encode(text: string, options?: { bos?: boolean }): number[];
  /**
   * The bytes to print for `token` when it follows `prev`: the leading space of the first
   * piece after BOS is dropped and `<0xXX>` pieces become the raw byte.
   */
  decodePiece(prev: number, token: number): Uint8Array;
  /** The text of tokens[1:] decoded after tokens[0], as run.c prints it. */
  decode(tokens: number[]): string;
}
