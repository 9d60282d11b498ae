package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/smolbot/smolbot/hub"
	"github.com/smolbot/smolbot/internal/units"
)

func init() {
	c := &command{
		name:    "list",
		summary: "list the models in the local cache",
		usage:   "[--cache DIR] [--json]",
	}
	c.runIO = func(args []string, stdout, stderr io.Writer) error { return runList(c, args, stdout, stderr) }
	register(c)
}

func runList(c *command, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet(c)
	fs.SetOutput(stderr)
	cache := cacheFlag(fs)
	jsonOut := fs.Bool("json", false, "print the cache records as JSON")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageError("unexpected argument %q", pos[0])
	}
	dir := *cache
	if dir == "" {
		if dir, err = hub.DefaultCacheDir(); err != nil {
			return err
		}
	}
	entries, err := hub.List(dir)
	if err != nil {
		return err
	}
	if *jsonOut {
		type item struct {
			Ref  string `json:"ref"`
			Path string `json:"path"`
			*hub.Entry
		}
		items := make([]item, 0, len(entries))
		for _, e := range entries {
			items = append(items, item{e.Ref().String(), e.Path, e})
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(items)
	}
	if len(entries) == 0 {
		fmt.Fprintf(stdout, "no models in %s; fetch the default one with: smolbot pull\n", dir)
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REF\tSIZE\tDOWNLOADED\tPATH")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Ref(), units.Bytes(e.Size), e.Downloaded.Local().Format("2006-01-02 15:04"), e.Path)
	}
	return tw.Flush()
}
