package hub

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/smolbot/smolbot/internal/units"
)

// progress draws a one-line bar (bytes, percentage, rate, ETA) on a
// terminal, redrawn at most ten times a second. On anything else it draws
// nothing: the client logs a line when a download starts and ends.
type progress struct {
	w          io.Writer
	name       string
	total      int64 // -1 if unknown
	done       int64
	sessionAt  int64 // done when this session started (for the rate)
	began      time.Time
	lastDraw   time.Time
	drawn      bool
	isTerminal bool
}

func newProgress(w io.Writer, name string, total, done int64) *progress {
	return &progress{w: w, name: name, total: total, done: done, sessionAt: done, began: time.Now(), isTerminal: isTerminal(w)}
}

// isTerminal reports whether w is a character device (a terminal) and the
// terminal is not "dumb". Stdlib only: the mode bit is enough to choose
// between a redrawn bar and plain log lines.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || f == nil || os.Getenv("TERM") == "dumb" {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0 && st.Mode()&os.ModeDevice != 0
}

func (p *progress) add(n int64) {
	p.done += n
	if !p.isTerminal {
		return
	}
	if now := time.Now(); now.Sub(p.lastDraw) >= 100*time.Millisecond || p.done == p.total {
		p.lastDraw = now
		p.draw()
	}
}

// restart is called when the server ignored a resume request.
func (p *progress) restart() { p.done, p.sessionAt, p.began = 0, 0, time.Now() }

func (p *progress) draw() {
	const width = 24
	elapsed := time.Since(p.began).Seconds()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(p.done-p.sessionAt) / elapsed
	}
	var b strings.Builder
	name := p.name
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	if len(name) > 32 {
		name = name[:31] + "…"
	}
	fmt.Fprintf(&b, "\r%-32s ", name)
	if p.total > 0 {
		frac := min(float64(p.done)/float64(p.total), 1)
		fill := int(frac * width)
		fmt.Fprintf(&b, "%3.0f%% [%s%s] %s / %s", frac*100, strings.Repeat("=", fill), strings.Repeat(" ", width-fill), formatBytes(p.done), formatBytes(p.total))
	} else {
		fmt.Fprintf(&b, "%s", formatBytes(p.done))
	}
	fmt.Fprintf(&b, "  %s/s", formatBytes(int64(rate)))
	if p.total > 0 && rate > 0 {
		eta := time.Duration(float64(p.total-p.done)/rate) * time.Second
		fmt.Fprintf(&b, "  ETA %s", eta.Round(time.Second))
	}
	b.WriteString("\x1b[K") // clear what a longer previous line left
	io.WriteString(p.w, b.String())
	p.drawn = true
}

// stop finishes the bar's line.
func (p *progress) stop() {
	if p.isTerminal && p.drawn {
		p.draw()
		io.WriteString(p.w, "\n")
		p.drawn = false
	}
}

// formatBytes prints a size with a binary unit ("1.78 GiB"); negative means unknown.
func formatBytes(n int64) string {
	if n < 0 {
		return "unknown size"
	}
	return units.Bytes(n)
}
