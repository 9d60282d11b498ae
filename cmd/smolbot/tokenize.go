package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/smolbot/smolbot/gguf"
	"github.com/smolbot/smolbot/tokenizer"
)

func init() {
	c := &command{
		name:    "tokenize",
		summary: "print the token ids and pieces of a text",
		usage:   "-m MODEL [--special] [--bos] [--json] TEXT   (TEXT - reads stdin)",
	}
	c.runIO = func(args []string, stdout, stderr io.Writer) error { return runTokenize(c, args, stdout, os.Stdin) }
	register(c)
}

func runTokenize(c *command, args []string, stdout io.Writer, stdin io.Reader) error {
	fs := newFlagSet(c)
	modelPath := fs.String("m", "", "model (or vocabulary-only) GGUF file (required)")
	special := fs.Bool("special", false, "parse special tokens such as <|im_start|> in the text")
	bos := fs.Bool("bos", false, "prepend the BOS token")
	asJSON := fs.Bool("json", false, `print {"ids":[...],"pieces":[...]}`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *modelPath == "" {
		return usageError("-m MODEL is required")
	}
	if fs.NArg() != 1 {
		return usageError("want exactly one TEXT argument (- for stdin), got %d", fs.NArg())
	}
	text := fs.Arg(0)
	if text == "-" {
		b, err := io.ReadAll(stdin)
		if err != nil {
			return err
		}
		text = string(b)
	}
	f, err := gguf.Open(*modelPath)
	if err != nil {
		return err
	}
	defer f.Close()
	tok, err := tokenizer.FromGGUF(f)
	if err != nil {
		return err
	}
	var ids []int32
	if *bos {
		if tok.BOS() < 0 {
			return fmt.Errorf("the vocabulary has no BOS token")
		}
		ids = append(ids, tok.BOS())
	}
	ids = tok.AppendEncode(ids, text, *special)
	pieces := make([]string, len(ids))
	for i, id := range ids {
		pieces[i] = string(tok.AppendPiece(nil, id, true))
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		return enc.Encode(struct {
			IDs    []int32  `json:"ids"`
			Pieces []string `json:"pieces"`
		}{ids, pieces})
	}
	for i, id := range ids {
		if _, err := fmt.Fprintf(stdout, "%6d  %q\n", id, pieces[i]); err != nil {
			return err
		}
	}
	return nil
}
