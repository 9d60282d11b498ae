package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/smolbot/smolbot/hf"
	"github.com/smolbot/smolbot/tokenizer"
)

func init() {
	c := &command{
		name:    "tokenize",
		summary: "print the token ids and pieces of a text",
		usage:   "[-m MODEL] [--special] [--bos] [--json] TEXT   (TEXT - reads stdin)",
	}
	c.runIO = func(args []string, stdout, stderr io.Writer) error {
		return runTokenize(c, args, stdout, stderr, os.Stdin)
	}
	register(c)
}

func runTokenize(c *command, args []string, stdout, stderr io.Writer, stdin io.Reader) error {
	fs := newFlagSet(c)
	fs.SetOutput(stderr)
	mf := addModelFlags(fs)
	fs.Lookup("m").Usage = strings.Replace(modelHelp, "a GGUF file", "a GGUF file (a vocabulary-only one will do)", 1)
	special := fs.Bool("special", false, "parse special tokens such as <|im_start|> in the text")
	bos := fs.Bool("bos", false, "prepend the BOS token")
	asJSON := fs.Bool("json", false, `print {"ids":[...],"pieces":[...]}`)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("want exactly one TEXT argument (- for stdin, quote text with spaces), got %d", len(pos))
	}
	text := pos[0]
	if text == "-" {
		b, err := io.ReadAll(stdin)
		if err != nil {
			return err
		}
		text = string(b)
	}
	path, err := mf.resolve(context.Background(), stderr)
	if err != nil {
		return err
	}
	// Only the vocabulary is needed: no weights are mapped for a
	// Hugging Face directory.
	m, err := hf.OpenVocabPath(path)
	if err != nil {
		return err
	}
	defer m.Close()
	tok, err := tokenizer.FromGGUF(m.File)
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
