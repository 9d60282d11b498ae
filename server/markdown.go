package server

import (
	"bytes"
	"html/template"
	"regexp"
	"strings"

	"github.com/alecthomas/chroma/v2"
	chromahtml "github.com/alecthomas/chroma/v2/formatters/html"
	"github.com/alecthomas/chroma/v2/lexers"
	"github.com/alecthomas/chroma/v2/styles"
	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/renderer/html"
	"github.com/yuin/goldmark/util"
)

// Markdown rendering for chat messages: goldmark (CommonMark + GFM tables,
// strikethrough, autolinks, task lists) with raw HTML disabled, fenced code
// highlighted by chroma into CSS classes (so one stylesheet serves light and
// dark), then sanitized by bluemonday. The sanitizer is the security
// boundary: model output and user input are untrusted, and a message must
// never be able to run script or break out of its container. Rendering is
// re-run on the whole text at every streaming update, so a half-written
// code fence renders as a code block that grows.

// The chroma styles behind the light and dark colour schemes.
const (
	lightStyle = "github"
	darkStyle  = "github-dark"
)

var (
	md = goldmark.New(
		goldmark.WithExtensions(extension.GFM),
		goldmark.WithRendererOptions(
			// No html.WithUnsafe: raw HTML in messages is dropped by goldmark
			// and again by the sanitizer.
			html.WithHardWraps(),
			renderer.WithNodeRenderers(util.Prioritized(codeRenderer{}, 100)),
		),
	)
	codeFormatter = chromahtml.New(chromahtml.WithClasses(true), chromahtml.PreventSurroundingPre(true))

	sanitizer = func() *bluemonday.Policy {
		p := bluemonday.UGCPolicy()
		// Chroma's token classes and the language class on code blocks.
		p.AllowAttrs("class").Matching(regexp.MustCompile(`^[a-zA-Z0-9_ -]{1,100}$`)).OnElements("span", "code", "pre", "div")
		// Task list checkboxes from GFM.
		p.AllowAttrs("type").Matching(regexp.MustCompile(`^checkbox$`)).OnElements("input")
		p.AllowAttrs("checked", "disabled").OnElements("input")
		p.RequireNoReferrerOnLinks(true)
		p.AddTargetBlankToFullyQualifiedLinks(true)
		return p
	}()
)

// renderMarkdown turns untrusted markdown into safe HTML.
func renderMarkdown(src string) template.HTML {
	if strings.TrimSpace(src) == "" {
		return ""
	}
	var buf bytes.Buffer
	if err := md.Convert([]byte(src), &buf); err != nil {
		// goldmark only fails on writer errors; fall back to escaped text.
		return template.HTML("<p>" + template.HTMLEscapeString(src) + "</p>")
	}
	return template.HTML(sanitizer.SanitizeBytes(buf.Bytes()))
}

// codeRenderer renders fenced and indented code blocks with chroma.
type codeRenderer struct{}

// RegisterFuncs implements renderer.NodeRenderer.
func (codeRenderer) RegisterFuncs(r renderer.NodeRendererFuncRegisterer) {
	r.Register(ast.KindFencedCodeBlock, renderCode)
	r.Register(ast.KindCodeBlock, renderCode)
	r.Register(ast.KindHTMLBlock, renderHTMLBlockAsText)
	r.Register(ast.KindRawHTML, renderRawHTMLAsText)
}

// renderHTMLBlockAsText shows an HTML block as the text it is, escaped:
// a model explaining HTML outside a code fence keeps its words, and nothing
// it writes becomes markup.
func renderHTMLBlockAsText(w util.BufWriter, source []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkContinue, nil
	}
	w.WriteString("<p>")
	lines := n.Lines()
	for i := range lines.Len() {
		seg := lines.At(i)
		w.WriteString(template.HTMLEscapeString(string(seg.Value(source))))
	}
	if b, ok := n.(*ast.HTMLBlock); ok && b.HasClosure() {
		w.WriteString(template.HTMLEscapeString(string(b.ClosureLine.Value(source))))
	}
	w.WriteString("</p>\n")
	return ast.WalkSkipChildren, nil
}

// renderRawHTMLAsText does the same for inline HTML.
func renderRawHTMLAsText(w util.BufWriter, source []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkSkipChildren, nil
	}
	segs := n.(*ast.RawHTML).Segments
	for i := range segs.Len() {
		seg := segs.At(i)
		w.WriteString(template.HTMLEscapeString(string(seg.Value(source))))
	}
	return ast.WalkSkipChildren, nil
}

func renderCode(w util.BufWriter, source []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkContinue, nil
	}
	var code bytes.Buffer
	lines := n.Lines()
	for i := range lines.Len() {
		seg := lines.At(i)
		code.Write(seg.Value(source))
	}
	lang := ""
	if f, ok := n.(*ast.FencedCodeBlock); ok && f.Info != nil {
		lang = string(f.Language(source))
	}
	var lexer chroma.Lexer
	if lang != "" {
		lexer = lexers.Get(lang)
	}
	if lexer == nil {
		lexer = lexers.Fallback
	}
	lexer = chroma.Coalesce(lexer)
	w.WriteString(`<pre class="chroma"><code`)
	if lang != "" {
		w.WriteString(` class="language-`)
		w.WriteString(template.HTMLEscapeString(lang))
		w.WriteString(`"`)
	}
	w.WriteString(`>`)
	it, err := lexer.Tokenise(nil, code.String())
	if err == nil {
		err = codeFormatter.Format(w, styles.Get(lightStyle), it)
	}
	if err != nil {
		w.WriteString(template.HTMLEscapeString(code.String()))
	}
	w.WriteString("</code></pre>\n")
	return ast.WalkSkipChildren, nil
}

// chromaCSS is the stylesheet for highlighted code: the light style unless
// the user prefers dark, the dark one if so. Each scheme gets only its own
// rules: the two styles do not define the same token classes, and a light
// rule left active in dark mode would paint dark text on a dark background.
var chromaCSS = func() []byte {
	var buf bytes.Buffer
	buf.WriteString("@media not (prefers-color-scheme: dark) {\n")
	_ = codeFormatter.WriteCSS(&buf, styles.Get(lightStyle))
	buf.WriteString("}\n@media (prefers-color-scheme: dark) {\n")
	_ = codeFormatter.WriteCSS(&buf, styles.Get(darkStyle))
	buf.WriteString("}\n")
	return buf.Bytes()
}()
