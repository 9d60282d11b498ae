package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/smolbot/smolbot/hub"
)

func init() {
	c := &command{
		name:    "pull",
		summary: "download a GGUF model from Hugging Face into the local cache",
		usage:   "[--cache DIR] [REF]   (REF: OWNER/REPO[:TAG|:FILE.gguf] or a URL; default " + hub.DefaultRef + ")",
	}
	c.runIO = func(args []string, stdout, stderr io.Writer) error { return runPull(c, args, stdout, stderr) }
	register(c)
}

// cacheFlag adds the --cache flag shared by pull, list and rm.
func cacheFlag(fs *flag.FlagSet) *string {
	def, err := hub.DefaultCacheDir()
	if err != nil {
		def = "(none: set --cache)"
	}
	return fs.String("cache", "", "model cache directory (default $SMOLBOT_CACHE, else "+def+")")
}

func runPull(c *command, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet(c)
	fs.SetOutput(stderr)
	cache := cacheFlag(fs)
	quiet := fs.Bool("quiet", false, "no progress output")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usageError("want at most one REF, got %d", len(pos))
	}
	refStr := hub.DefaultRef
	if len(pos) == 1 {
		refStr = pos[0]
	}
	ref, err := hub.ParseRef(refStr)
	if err != nil {
		return usageError("%v", err)
	}
	cl, err := hub.NewClient(*cache)
	if err != nil {
		return err
	}
	if !*quiet {
		cl.Progress = stderr
	}
	// Ctrl-C stops the download; the partial file stays and the next pull resumes it.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	e, err := cl.Pull(ctx, ref)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted; run `smolbot pull %s` again to resume", refStr)
		}
		return err
	}
	fmt.Fprintln(stdout, e.Path)
	return nil
}
