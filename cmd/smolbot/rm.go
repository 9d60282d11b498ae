package main

import (
	"fmt"
	"io"

	"github.com/smolbot/smolbot/hub"
)

func init() {
	c := &command{
		name:    "rm",
		summary: "remove models from the local cache",
		usage:   "[--cache DIR] REF...   (OWNER/REPO removes every file of the repository)",
	}
	c.runIO = func(args []string, stdout, stderr io.Writer) error { return runRm(c, args, stdout, stderr) }
	register(c)
}

func runRm(c *command, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet(c)
	fs.SetOutput(stderr)
	cache := cacheFlag(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usageError("name at least one REF (see `smolbot list`)")
	}
	dir := *cache
	if dir == "" {
		if dir, err = hub.DefaultCacheDir(); err != nil {
			return err
		}
	}
	var refs []hub.Ref
	for _, s := range pos {
		r, err := hub.ParseRef(s)
		if err != nil {
			return usageError("%v", err)
		}
		refs = append(refs, r)
	}
	for _, r := range refs {
		removed, err := hub.Remove(dir, r)
		if err != nil {
			return err
		}
		for _, p := range removed {
			fmt.Fprintf(stdout, "removed %s\n", p)
		}
	}
	return nil
}
