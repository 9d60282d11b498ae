package main

import (
	"bytes"
	"testing"
)

// smolbot runs a subcommand through runMain and returns its output.
func smolbot(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = runMain(args, &out, &errb)
	return out.String(), errb.String(), code
}
