package hub

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"syscall"
	"testing"
)

// TestNetErr: a host that does not resolve fails at once with a hint and
// the URL said once; other transport errors are retried.
func TestNetErr(t *testing.T) {
	u := "https://huggingface.co/api/models/o/r/tree/main"
	dns := &url.Error{Op: "Get", URL: u, Err: &net.OpError{Op: "dial", Net: "tcp",
		Err: &net.DNSError{Err: "no such host", Name: "huggingface.co", IsNotFound: true}}}
	err := netErr(context.Background(), u, dns)
	if isRetryable(err) || !strings.Contains(err.Error(), "cannot reach huggingface.co") || strings.Contains(err.Error(), u) {
		t.Errorf("DNS failure: retryable %v, %v", isRetryable(err), err)
	}
	refused := &url.Error{Op: "Get", URL: u, Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}
	err = netErr(context.Background(), u, refused)
	if !isRetryable(err) || strings.Count(err.Error(), u) != 1 || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("refused: retryable %v, %v", isRetryable(err), err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := netErr(ctx, u, refused); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
