package chat

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nikolalohinski/gonja/v2/builtins"
	"github.com/nikolalohinski/gonja/v2/config"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/loaders"
)

// This file adapts gonja (a Go port of Jinja2) to the dialect chat templates
// are written in: Hugging Face's apply_chat_template, which runs Jinja2 with
// trim_blocks and lstrip_blocks, Python string methods and a few globals
// (raise_exception, strftime_now). gonja v2.9.1 gets several Python string
// methods wrong (str.replace demands a count, strip/lstrip/rstrip default to
// stripping only spaces, split() without a separator splits on a space,
// rsplit mis-slices), its tojson is Go's compact, HTML-escaping encoding
// instead of Python's json.dumps, and its range() feeds a goroutine that leaks
// when a loop breaks early. We replace exactly those pieces.

// maxRangeLen bounds range() so a hostile template cannot allocate without
// limit; real chat templates iterate over a handful of items.
const maxRangeLen = 1 << 20

// maxOutput bounds a rendered prompt (bytes). A 128K-token prompt is ~0.5 MB
// of text, so this only trips on runaway templates.
const maxOutput = 64 << 20

// rootName is the loader's name for the template being compiled.
const rootName = "chat_template"

// errOutputTooLarge is returned when a template writes more than maxOutput.
var errOutputTooLarge = errors.New("rendered prompt exceeds 64 MiB")

// TemplateError is an error a template raised itself with
// raise_exception(message), e.g. "Conversation roles must alternate".
type TemplateError struct {
	Message string
}

func (e *TemplateError) Error() string { return "chat template: " + e.Message }

// memLoader serves the one template source and refuses everything else, so
// an {% include %} or {% import %} in a model file cannot read the disk
// (gonja's default loader reads any path).
type memLoader struct{ src string }

func (l memLoader) Read(path string) (io.Reader, error) {
	if path != rootName {
		return nil, fmt.Errorf("template loading is disabled (%q)", path)
	}
	return strings.NewReader(l.src), nil
}

func (l memLoader) Resolve(path string) (string, error) {
	if path != rootName {
		return "", fmt.Errorf("template loading is disabled (%q)", path)
	}
	return path, nil
}

func (l memLoader) Inherit(string) (loaders.Loader, error) { return l, nil }

// compileJinja parses src with HF's settings. now supplies strftime_now's
// clock and is read at render time.
func compileJinja(src string, now func() time.Time) (tpl *exec.Template, err error) {
	defer func() {
		if r := recover(); r != nil {
			tpl, err = nil, fmt.Errorf("chat template: parser panic: %v", r)
		}
	}()
	cfg := config.New()
	cfg.TrimBlocks = true
	cfg.LeftStripBlocks = true
	cfg.KeepTrailingNewline = false

	globals := exec.EmptyContext().Update(builtins.GlobalFunctions).Update(builtins.GlobalVariables)
	globals.Set("strftime_now", func(_ *exec.Evaluator, p *exec.VarArgs) (any, error) {
		if len(p.Args) != 1 || !p.Args[0].IsString() {
			return nil, errors.New("strftime_now expects one format string")
		}
		return strftime(p.Args[0].String(), now()), nil
	})
	globals.Set("range", rangeList)

	env := &exec.Environment{
		Context:           globals,
		Filters:           filters(),
		Tests:             builtins.Tests,
		ControlStructures: builtins.ControlStructures,
		Methods:           methods(),
	}
	return exec.NewTemplate(rootName, cfg, memLoader{src: src}, env)
}

// executeJinja renders vars (which it extends) with a size cap and turns
// panics inside gonja into errors: message contents are untrusted input and
// must never crash the server.
func executeJinja(tpl *exec.Template, vars map[string]any) (out string, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = "", fmt.Errorf("chat template: renderer panic: %v", r)
		}
	}()
	// raise_exception is bound per render: gonja flattens errors returned by
	// functions into text, so the raised message is recorded here instead.
	var raised *TemplateError
	vars["raise_exception"] = func(_ *exec.Evaluator, p *exec.VarArgs) (any, error) {
		msg := "raise_exception called"
		if len(p.Args) > 0 {
			msg = p.Args[0].String()
		}
		raised = &TemplateError{Message: msg}
		return nil, raised
	}
	w := &limitWriter{max: maxOutput}
	if err := tpl.Execute(w, exec.NewContext(vars)); err != nil {
		if raised != nil {
			return "", raised
		}
		if w.exceeded {
			return "", errOutputTooLarge
		}
		return "", fmt.Errorf("chat template: %w", err)
	}
	return w.buf.String(), nil
}

type limitWriter struct {
	buf      bytes.Buffer
	max      int
	exceeded bool
}

func (w *limitWriter) Write(p []byte) (int, error) {
	if w.buf.Len()+len(p) > w.max {
		w.exceeded = true
		return 0, errOutputTooLarge
	}
	return w.buf.Write(p)
}

// rangeList is Python's range() returning a list (gonja's streams through a
// goroutine that is never stopped if the loop breaks).
func rangeList(_ *exec.Evaluator, p *exec.VarArgs) (any, error) {
	var a [3]int
	for i, v := range p.Args {
		if i >= 3 || !v.IsInteger() {
			return nil, errors.New("range expects 1 to 3 integers")
		}
		a[i] = v.Integer()
	}
	start, stop, step := 0, 0, 1
	switch len(p.Args) {
	case 1:
		stop = a[0]
	case 2:
		start, stop = a[0], a[1]
	case 3:
		start, stop, step = a[0], a[1], a[2]
	default:
		return nil, errors.New("range expects 1 to 3 integers")
	}
	if step == 0 {
		return nil, errors.New("range() step must not be zero")
	}
	n := 0
	if step > 0 && stop > start {
		n = (stop - start + step - 1) / step
	} else if step < 0 && stop < start {
		n = (start - stop - step - 1) / -step
	}
	if n > maxRangeLen {
		return nil, fmt.Errorf("range() of %d items exceeds the limit of %d", n, maxRangeLen)
	}
	out := make([]int, n)
	for i := range out {
		out[i] = start + i*step
	}
	return out, nil
}

// strMethodNames lists gonja's str methods; MethodSet cannot be enumerated,
// so we copy them by name into a set that carries our replacements.
var strMethodNames = []string{"capitalize", "capwords", "casefold", "center", "count", "encode",
	"endswith", "expandtabs", "find", "format", "format_map", "isalnum", "isalpha", "isascii",
	"isdecimal", "isdigit", "islower", "isnumeric", "isprintable", "isspace", "istitle", "isupper",
	"join", "ljust", "lower", "lstrip", "partition", "removeprefix", "removesuffix", "replace",
	"rfind", "rjust", "rpartition", "rsplit", "rstrip", "split", "splitlines", "startswith", "strip",
	"swapcase", "title", "upper", "zfill"}

func methods() exec.Methods {
	m := builtins.Methods
	set := make(map[string]exec.Method[string], len(strMethodNames))
	for _, name := range strMethodNames {
		if f, ok := m.Str.Get(name); ok {
			set[name] = f
		}
	}
	set["replace"] = strReplace
	set["strip"] = stripMethod(true, true)
	set["lstrip"] = stripMethod(true, false)
	set["rstrip"] = stripMethod(false, true)
	set["split"] = strSplit
	set["rsplit"] = strRSplit
	m.Str = exec.NewMethodSet(set)
	return m
}

// optString reads optional positional argument i as a string; ok is false
// when it is absent or None.
func optString(p *exec.VarArgs, i int) (s string, ok bool, err error) {
	if len(p.Args) <= i || p.Args[i].IsNil() {
		return "", false, nil
	}
	if !p.Args[i].IsString() {
		return "", false, fmt.Errorf("argument %d must be a string or None", i+1)
	}
	return p.Args[i].String(), true, nil
}

// optInt reads optional positional argument i as an int, def if absent.
func optInt(p *exec.VarArgs, i, def int) (int, error) {
	if len(p.Args) <= i {
		return def, nil
	}
	if !p.Args[i].IsInteger() {
		return 0, fmt.Errorf("argument %d must be an integer", i+1)
	}
	return p.Args[i].Integer(), nil
}

// strReplace is str.replace(old, new[, count]).
func strReplace(self string, _ *exec.Value, p *exec.VarArgs) (any, error) {
	if len(p.Args) < 2 || len(p.Args) > 3 {
		return nil, errors.New("replace expects 2 or 3 arguments")
	}
	old, ok1, err := optString(p, 0)
	if err != nil {
		return nil, err
	}
	nw, ok2, err := optString(p, 1)
	if err != nil {
		return nil, err
	}
	if !ok1 || !ok2 {
		return nil, errors.New("replace arguments must be strings")
	}
	count, err := optInt(p, 2, -1)
	if err != nil {
		return nil, err
	}
	return strings.Replace(self, old, nw, count), nil
}

// isPySpace is Python's str.isspace for one character: Unicode White_Space
// plus the ASCII separators U+001C..U+001F, which Python also counts.
func isPySpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

// stripMethod builds str.strip/lstrip/rstrip([chars]).
func stripMethod(left, right bool) exec.Method[string] {
	return func(self string, _ *exec.Value, p *exec.VarArgs) (any, error) {
		if len(p.Args) > 1 {
			return nil, errors.New("strip expects at most one argument")
		}
		chars, ok, err := optString(p, 0)
		if err != nil {
			return nil, err
		}
		cut := isPySpace
		if ok {
			cut = func(r rune) bool { return strings.ContainsRune(chars, r) }
		}
		if left {
			self = strings.TrimLeftFunc(self, cut)
		}
		if right {
			self = strings.TrimRightFunc(self, cut)
		}
		return self, nil
	}
}

// splitArgs reads split/rsplit's (sep=None, maxsplit=-1), positional or
// keyword.
func splitArgs(p *exec.VarArgs) (sep string, hasSep bool, maxsplit int, err error) {
	if len(p.Args) > 2 {
		return "", false, 0, errors.New("split expects at most two arguments")
	}
	sep, hasSep, err = optString(p, 0)
	if err != nil {
		return
	}
	maxsplit, err = optInt(p, 1, -1)
	if err != nil {
		return
	}
	if v, ok := p.KwArgs["sep"]; ok && !v.IsNil() {
		sep, hasSep = v.String(), true
	}
	if v, ok := p.KwArgs["maxsplit"]; ok {
		if !v.IsInteger() {
			return "", false, 0, errors.New("maxsplit must be an integer")
		}
		maxsplit = v.Integer()
	}
	if hasSep && sep == "" {
		return "", false, 0, errors.New("empty separator")
	}
	return sep, hasSep, maxsplit, nil
}

// strSplit is str.split(sep=None, maxsplit=-1).
func strSplit(self string, _ *exec.Value, p *exec.VarArgs) (any, error) {
	sep, hasSep, maxsplit, err := splitArgs(p)
	if err != nil {
		return nil, err
	}
	if hasSep {
		n := -1
		if maxsplit >= 0 {
			n = maxsplit + 1
		}
		return strings.SplitN(self, sep, n), nil
	}
	// Whitespace split: runs of whitespace separate, ends are ignored; with
	// maxsplit the remainder keeps its inner whitespace but not its leading run.
	var out []string
	s := strings.TrimLeftFunc(self, isPySpace)
	for s != "" {
		if maxsplit >= 0 && len(out) == maxsplit {
			out = append(out, s)
			break
		}
		i := strings.IndexFunc(s, isPySpace)
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i])
		s = strings.TrimLeftFunc(s[i:], isPySpace)
	}
	if out == nil {
		out = []string{}
	}
	return out, nil
}

// strRSplit is str.rsplit(sep=None, maxsplit=-1).
func strRSplit(self string, _ *exec.Value, p *exec.VarArgs) (any, error) {
	sep, hasSep, maxsplit, err := splitArgs(p)
	if err != nil {
		return nil, err
	}
	var out []string
	if hasSep {
		s := self
		for maxsplit < 0 || len(out) < maxsplit {
			i := strings.LastIndex(s, sep)
			if i < 0 {
				break
			}
			out = append(out, s[i+len(sep):])
			s = s[:i]
		}
		out = append(out, s)
	} else {
		s := strings.TrimRightFunc(self, isPySpace)
		for s != "" {
			if maxsplit >= 0 && len(out) == maxsplit {
				out = append(out, s)
				break
			}
			i := strings.LastIndexFunc(s, isPySpace)
			if i < 0 {
				out = append(out, s)
				break
			}
			_, w := utf8.DecodeRuneInString(s[i:])
			out = append(out, s[i+w:])
			s = strings.TrimRightFunc(s[:i], isPySpace)
		}
	}
	slices.Reverse(out)
	if out == nil {
		out = []string{}
	}
	return out, nil
}

// filters returns gonja's filters with tojson replaced by a json.dumps
// equivalent.
func filters() *exec.FilterSet {
	fs := exec.NewFilterSet(map[string]exec.FilterFunction{})
	fs.Update(builtins.Filters)
	fs.Replace("tojson", filterToJSON)
	return fs
}

// filterToJSON is HF's tojson: json.dumps(x, ensure_ascii=False, indent=indent,
// separators=separators, sort_keys=sort_keys). Go maps have no order, so
// their keys always come out sorted; dict literals written in the template
// keep their order.
func filterToJSON(_ *exec.Evaluator, in *exec.Value, p *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	enc := jsonEncoder{itemSep: ", ", keySep: ": ", indent: -1}
	for k, v := range p.KwArgs {
		switch k {
		case "indent":
			if v.IsNil() {
				continue
			}
			if !v.IsInteger() {
				return exec.AsValue(errors.New("tojson: indent must be an integer"))
			}
			enc.indent = max(v.Integer(), 0)
			enc.itemSep = ","
		case "separators":
			if v.IsNil() {
				continue
			}
			var parts []string
			if l, ok := v.Interface().([]any); ok && len(l) == 2 {
				for _, x := range l {
					if s, ok := x.(string); ok {
						parts = append(parts, s)
					}
				}
			}
			if len(parts) != 2 {
				return exec.AsValue(errors.New("tojson: separators must be two strings"))
			}
			enc.itemSep, enc.keySep = parts[0], parts[1]
		case "sort_keys", "ensure_ascii":
			// Keys of Go maps are always sorted; output is always UTF-8.
		default:
			return exec.AsValue(fmt.Errorf("tojson: unexpected argument %q", k))
		}
	}
	if len(p.Args) > 0 {
		if !p.Args[0].IsInteger() {
			return exec.AsValue(errors.New("tojson: indent must be an integer"))
		}
		enc.indent = max(p.Args[0].Integer(), 0)
		enc.itemSep = ","
	}
	if err := enc.encode(in.Interface(), 0); err != nil {
		return exec.AsValue(err)
	}
	return exec.AsSafeValue(enc.buf.String())
}

type jsonEncoder struct {
	buf             strings.Builder
	itemSep, keySep string
	indent          int // -1: single line
}

func (e *jsonEncoder) newline(level int) {
	if e.indent < 0 {
		return
	}
	e.buf.WriteByte('\n')
	e.buf.WriteString(strings.Repeat(" ", e.indent*level))
}

func (e *jsonEncoder) encode(v any, level int) error {
	if level > 100 {
		return errors.New("tojson: value nested too deeply")
	}
	switch x := v.(type) {
	case nil:
		e.buf.WriteString("null")
		return nil
	case *exec.Value:
		if x == nil {
			e.buf.WriteString("null")
			return nil
		}
		return e.encode(x.Interface(), level)
	case *exec.Dict:
		if x == nil {
			e.buf.WriteString("null")
			return nil
		}
		return e.encodeDict(x, level)
	case exec.Dict:
		return e.encodeDict(&x, level)
	case string:
		e.str(x)
		return nil
	case bool:
		e.buf.WriteString(strconv.FormatBool(x))
		return nil
	case float32:
		return e.float(float64(x))
	case float64:
		return e.float(x)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.buf.WriteString(strconv.FormatInt(rv.Int(), 10))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		e.buf.WriteString(strconv.FormatUint(rv.Uint(), 10))
	case reflect.String:
		e.str(rv.String())
	case reflect.Bool:
		e.buf.WriteString(strconv.FormatBool(rv.Bool()))
	case reflect.Float32, reflect.Float64:
		return e.float(rv.Float())
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			e.buf.WriteString("null")
			return nil
		}
		return e.encode(rv.Elem().Interface(), level+1)
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			e.buf.WriteString("null")
			return nil
		}
		if rv.Len() == 0 {
			e.buf.WriteString("[]")
			return nil
		}
		e.buf.WriteByte('[')
		for i := range rv.Len() {
			if i > 0 {
				e.buf.WriteString(e.itemSep)
			}
			e.newline(level + 1)
			if err := e.encode(rv.Index(i).Interface(), level+1); err != nil {
				return err
			}
		}
		e.newline(level)
		e.buf.WriteByte(']')
	case reflect.Map:
		if rv.IsNil() {
			e.buf.WriteString("null")
			return nil
		}
		if rv.Len() == 0 {
			e.buf.WriteString("{}")
			return nil
		}
		keys := make([]string, 0, rv.Len())
		vals := make(map[string]reflect.Value, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			k := fmt.Sprint(it.Key().Interface())
			keys = append(keys, k)
			vals[k] = it.Value()
		}
		slices.Sort(keys)
		e.buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				e.buf.WriteString(e.itemSep)
			}
			e.newline(level + 1)
			e.str(k)
			e.buf.WriteString(e.keySep)
			if err := e.encode(vals[k].Interface(), level+1); err != nil {
				return err
			}
		}
		e.newline(level)
		e.buf.WriteByte('}')
	case reflect.Struct:
		return fmt.Errorf("tojson: cannot encode %T", v)
	default:
		return fmt.Errorf("tojson: cannot encode %T", v)
	}
	return nil
}

func (e *jsonEncoder) encodeDict(d *exec.Dict, level int) error {
	if len(d.Pairs) == 0 {
		e.buf.WriteString("{}")
		return nil
	}
	e.buf.WriteByte('{')
	for i, p := range d.Pairs {
		if i > 0 {
			e.buf.WriteString(e.itemSep)
		}
		e.newline(level + 1)
		e.str(p.Key.String())
		e.buf.WriteString(e.keySep)
		if err := e.encode(p.Value, level+1); err != nil {
			return err
		}
	}
	e.newline(level)
	e.buf.WriteByte('}')
	return nil
}

// float formats like Python's float repr, which json.dumps uses.
func (e *jsonEncoder) float(f float64) error {
	switch {
	case math.IsNaN(f):
		e.buf.WriteString("NaN")
	case math.IsInf(f, 1):
		e.buf.WriteString("Infinity")
	case math.IsInf(f, -1):
		e.buf.WriteString("-Infinity")
	default:
		a := math.Abs(f)
		if a != 0 && (a < 1e-4 || a >= 1e16) {
			s := strconv.FormatFloat(f, 'e', -1, 64)
			// Python writes at least two exponent digits, as Go does.
			e.buf.WriteString(s)
			return nil
		}
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.ContainsRune(s, '.') {
			s += ".0"
		}
		e.buf.WriteString(s)
	}
	return nil
}

// str writes a JSON string as json.dumps(ensure_ascii=False) does: only
// quotes, backslashes and control characters are escaped.
func (e *jsonEncoder) str(s string) {
	const hex = "0123456789abcdef"
	e.buf.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			e.buf.WriteString(`\"`)
		case '\\':
			e.buf.WriteString(`\\`)
		case '\n':
			e.buf.WriteString(`\n`)
		case '\r':
			e.buf.WriteString(`\r`)
		case '\t':
			e.buf.WriteString(`\t`)
		case '\b':
			e.buf.WriteString(`\b`)
		case '\f':
			e.buf.WriteString(`\f`)
		default:
			if r < 0x20 {
				e.buf.WriteString(`\u00`)
				e.buf.WriteByte(hex[r>>4])
				e.buf.WriteByte(hex[r&15])
			} else {
				e.buf.WriteRune(r)
			}
		}
	}
	e.buf.WriteByte('"')
}

// strftime formats t with the C/Python directives chat templates use
// (Llama 3.x: "%d %b %Y"; SmolLM3's HF original: "%d %B %Y"). Unknown
// directives are copied through, as glibc does.
func strftime(format string, t time.Time) string {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i+1 == len(format) {
			b.WriteByte(c)
			continue
		}
		i++
		switch format[i] {
		case 'd':
			fmt.Fprintf(&b, "%02d", t.Day())
		case 'e':
			fmt.Fprintf(&b, "%2d", t.Day())
		case 'm':
			fmt.Fprintf(&b, "%02d", int(t.Month()))
		case 'Y':
			fmt.Fprintf(&b, "%d", t.Year())
		case 'y':
			fmt.Fprintf(&b, "%02d", t.Year()%100)
		case 'B':
			b.WriteString(t.Month().String())
		case 'b', 'h':
			b.WriteString(t.Month().String()[:3])
		case 'A':
			b.WriteString(t.Weekday().String())
		case 'a':
			b.WriteString(t.Weekday().String()[:3])
		case 'H':
			fmt.Fprintf(&b, "%02d", t.Hour())
		case 'I':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			fmt.Fprintf(&b, "%02d", h)
		case 'M':
			fmt.Fprintf(&b, "%02d", t.Minute())
		case 'S':
			fmt.Fprintf(&b, "%02d", t.Second())
		case 'p':
			if t.Hour() < 12 {
				b.WriteString("AM")
			} else {
				b.WriteString("PM")
			}
		case 'j':
			fmt.Fprintf(&b, "%03d", t.YearDay())
		case 'F':
			b.WriteString(t.Format("2006-01-02"))
		case 'T':
			b.WriteString(t.Format("15:04:05"))
		case 'Z':
			name, _ := t.Zone()
			b.WriteString(name)
		case 'z':
			b.WriteString(t.Format("-0700"))
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(format[i])
		}
	}
	return b.String()
}
