// Command smolbot runs SmolLM-family language models from GGUF files: a web
// chat server, a terminal chat, one-shot generation, and model tools.
//
// Each subcommand lives in its own file and registers itself in init; this
// file only dispatches. Subcommands parse their own flags.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// command is one smolbot subcommand.
type command struct {
	name    string
	summary string // one line for `smolbot help`
	usage   string // argument synopsis, e.g. "[flags] FILE"
	// run executes the command with the arguments after its name. It returns
	// errUsage (possibly wrapped) for bad arguments so main can print usage.
	run func(args []string) error
	// runIO, if set, is used instead of run. It receives runMain's output
	// streams, so tests that call runMain can capture what the command
	// prints (run can only reach os.Stdout).
	runIO func(args []string, stdout, stderr io.Writer) error
}

// exec runs the command with runMain's streams.
func (c *command) exec(args []string, stdout, stderr io.Writer) error {
	if c.runIO != nil {
		return c.runIO(args, stdout, stderr)
	}
	return c.run(args)
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("smolbot: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

// errUsage marks an error caused by bad command-line arguments.
var errUsage = errors.New("usage")

// usageError returns an error that makes main print the command's usage.
func usageError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

// newFlagSet returns a flag set for a subcommand that reports errors instead
// of exiting, and prints the command's synopsis in its usage text.
func newFlagSet(c *command) *flag.FlagSet {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: smolbot %s %s\n\n%s\n\nflags:\n", c.name, c.usage, c.summary)
		fs.PrintDefaults()
	}
	return fs
}

func main() {
	os.Exit(runMain(os.Args[1:], os.Stdout, os.Stderr))
}

func runMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				_ = c.exec([]string{"-h"}, stdout, stdout)
				return 0
			}
		}
		printHelp(stdout)
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "smolbot: unknown command %q (see `smolbot help`)\n", args[0])
		return 2
	}
	if err := c.exec(args[1:], stdout, stderr); err != nil {
		switch {
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			fmt.Fprintf(stderr, "smolbot %s: %v\nrun `smolbot %s -h` for usage\n", c.name, strings.TrimPrefix(err.Error(), "usage: "), c.name)
			return 2
		default:
			fmt.Fprintf(stderr, "smolbot %s: %v\n", c.name, err)
			return 1
		}
	}
	return 0
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "smolbot — run SmolLM models on the CPU\n\nusage: smolbot COMMAND [flags] [args]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nrun `smolbot COMMAND -h` for a command's flags")
	fmt.Fprintln(w, "get started: `smolbot serve --pull` downloads SmolLM3-3B (Q4_K_M, 1.9 GB) once and serves the web chat on http://127.0.0.1:8080")
}
