package tokenizer

// Pre-tokenizers split a plain-text fragment into words before BPE (spec
// §5.2). llama.cpp describes each as a list of regular expressions applied in
// turn, each one splitting every piece left by the previous one; the ones
// used here need look-ahead ((?!\S)), which Go's regexp lacks, so each is
// written out by hand over code points, rule by rule.

// preKind selects the regex list of a pre-tokenizer tag.
type preKind uint8

const (
	// preDefault is llama.cpp's fallback list: punctuation runs, the GPT-2
	// regex, number runs, then ASCII digit triples.
	preDefault preKind = iota
	// preLlama3 is the Llama-3 regex (llama3, llama-bpe, smaug-bpe, dbrx, ...).
	preLlama3
	// preGPT2 is the GPT-2 regex alone.
	preGPT2
	// preDigitsGPT2 isolates every \p{N} code point, then applies the GPT-2
	// regex (smollm, starcoder, refact, command-r, ...).
	preDigitsGPT2
)

// outside is the code point seen past either end of the piece being split
// (llama.cpp's OUT_OF_RANGE).
const outside rune = -1

// splitter holds the scratch buffers of one pre-tokenization. Pieces are
// described by code point indices; enc holds the text re-encoded from the
// code points, which differs from the input only where the input is not
// valid UTF-8 (each bad byte becomes U+FFFD, as in llama.cpp).
type splitter struct {
	cps  []rune
	cls  []uint8
	offs []int  // byte offset in enc of each code point, plus len(enc)
	enc  []byte // the re-encoded text
	ends []int  // end index of each piece, increasing; the last is len(cps)
	tmp  []int
}

// load decodes text into code points and their classes.
func (s *splitter) load(text string) {
	s.cps, s.cls, s.offs, s.enc = s.cps[:0], s.cls[:0], s.offs[:0], s.enc[:0]
	for i := 0; i < len(text); {
		c, n := rune(text[i]), 1
		if c >= 0x80 {
			c, n = decodeRune(text[i:])
		}
		i += n
		s.offs = append(s.offs, len(s.enc))
		s.enc = appendRune(s.enc, c)
		s.cps = append(s.cps, c)
		s.cls = append(s.cls, cpClass(c))
	}
	s.offs = append(s.offs, len(s.enc))
}

// split runs the pre-tokenizer kind over text. Afterwards piece i is
// s.piece(i) for i in [0, len(s.ends)).
func (s *splitter) split(kind preKind, text string) {
	s.load(text)
	s.ends = s.ends[:0]
	if len(s.cps) == 0 {
		return
	}
	s.ends = append(s.ends, len(s.cps))
	switch kind {
	case preLlama3:
		s.pass(splitLlama3)
	case preGPT2:
		s.pass(splitGPT2)
	case preDigitsGPT2:
		s.pass(isolateNumbers)
		s.pass(splitGPT2)
	default:
		s.pass(isolatePunctRuns)
		s.pass(splitGPT2)
		s.pass(isolateNumberRuns)
		s.pass(isolateASCIIDigitTriples)
	}
}

// piece returns the bytes of piece i (a view into s.enc).
func (s *splitter) piece(i int) []byte {
	lo := 0
	if i > 0 {
		lo = s.ends[i-1]
	}
	return s.enc[s.offs[lo]:s.offs[s.ends[i]]]
}

// pass applies one rule set to every current piece.
func (s *splitter) pass(f func(s *splitter, lo, hi int, out []int) []int) {
	s.tmp = s.tmp[:0]
	lo := 0
	for _, hi := range s.ends {
		s.tmp = f(s, lo, hi, s.tmp)
		lo = hi
	}
	s.ends, s.tmp = s.tmp, s.ends
}

// at returns the code point and class at i, or (outside, 0) outside [lo, hi).
func (s *splitter) at(i, lo, hi int) (rune, uint8) {
	if i >= lo && i < hi {
		return s.cps[i], s.cls[i]
	}
	return outside, 0
}

// splitLlama3 implements
//
//	(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//
// over cps[lo:hi], appending piece ends to out. The alternatives are tried
// in order at each position, exactly as llama.cpp's
// unicode_regex_split_custom_llama3 does (spec §5.2 rules 1-6).
func splitLlama3(s *splitter, lo, hi int, out []int) []int {
	pos := lo
	emit := func(end int) {
		if end > pos {
			out = append(out, end)
		}
		pos = end
	}
	for pos < hi {
		c, f := s.cps[pos], s.cls[pos]

		// Rule 1: contractions, case-insensitive.
		if c == '\'' && pos+1 < hi {
			n1 := lowerASCII(s.cps[pos+1])
			if n1 == 's' || n1 == 't' || n1 == 'm' || n1 == 'd' {
				emit(pos + 2)
				continue
			}
			if pos+2 < hi {
				n2 := lowerASCII(s.cps[pos+2])
				if (n1 == 'r' && n2 == 'e') || (n1 == 'v' && n2 == 'e') || (n1 == 'l' && n2 == 'l') {
					emit(pos + 3)
					continue
				}
			}
		}

		// Rule 2: one optional non-letter, non-number, non-newline code
		// point, then letters.
		if c != '\r' && c != '\n' && f&cpNumber == 0 {
			_, f1 := s.at(pos+1, lo, hi)
			if f&cpLetter != 0 || f1&cpLetter != 0 {
				end := pos + 1
				for end < hi && s.cls[end]&cpLetter != 0 {
					end++
				}
				emit(end)
				continue
			}
		}

		// Rule 3: numbers, in runs of at most three.
		if f&cpNumber != 0 {
			end := pos
			for end < hi && s.cls[end]&cpNumber != 0 {
				end++
				if end-pos == 3 {
					emit(end)
				}
			}
			emit(end)
			continue
		}

		// Rule 4: optional space, punctuation run, trailing newlines. The
		// class that decides is the next code point's when this one is a
		// space. llama.cpp tests "is a code point" on the current one here,
		// which always holds inside the piece.
		f2 := f
		if c == ' ' {
			_, f2 = s.at(pos+1, lo, hi)
		}
		if f2&(cpSpace|cpLetter|cpNumber) == 0 {
			end := pos
			if c == ' ' {
				end++
			}
			for end < hi && s.cls[end]&(cpSpace|cpLetter|cpNumber) == 0 {
				end++
			}
			for end < hi && (s.cps[end] == '\r' || s.cps[end] == '\n') {
				end++
			}
			emit(end)
			continue
		}

		// Rule 5: whitespace.
		n, lastNL := 0, -1
		for pos+n < hi && s.cls[pos+n]&cpSpace != 0 {
			if c2 := s.cps[pos+n]; c2 == '\r' || c2 == '\n' {
				lastNL = pos + n + 1
			}
			n++
		}
		switch {
		case lastNL >= 0: // \s*[\r\n]+
			emit(lastNL)
		case n > 1 && pos+n < hi: // \s+(?!\S): leave the last space to the next word
			emit(pos + n - 1)
		case n > 0: // \s+
			emit(pos + n)
		default: // Rule 6: no rule matched.
			emit(pos + 1)
		}
	}
	return out
}

// splitGPT2 implements
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// over cps[lo:hi] the way llama.cpp's unicode_regex_split_custom_gpt2 does.
// Unlike Llama-3 the contractions are case-sensitive and numbers are not
// chunked.
func splitGPT2(s *splitter, lo, hi int, out []int) []int {
	pos := lo
	emit := func(end int) {
		if end > pos {
			out = append(out, end)
		}
		pos = end
	}
	for pos < hi {
		c, f := s.cps[pos], s.cls[pos]

		if c == '\'' && pos+1 < hi {
			n1 := s.cps[pos+1]
			if n1 == 's' || n1 == 't' || n1 == 'm' || n1 == 'd' {
				emit(pos + 2)
				continue
			}
			if pos+2 < hi {
				n2 := s.cps[pos+2]
				if (n1 == 'r' && n2 == 'e') || (n1 == 'v' && n2 == 'e') || (n1 == 'l' && n2 == 'l') {
					emit(pos + 3)
					continue
				}
			}
		}

		start := pos
		f2 := f
		if c == ' ' {
			start++
			_, f2 = s.at(pos+1, lo, hi)
		}
		// ` ?\p{L}+`, ` ?\p{N}+` and ` ?[^\s\p{L}\p{N}]+`: one class, then a
		// run of the same class.
		var want uint8
		switch {
		case f2&cpLetter != 0:
			want = cpLetter
		case f2&cpNumber != 0:
			want = cpNumber
		case f2 != 0 && f2&cpSpace == 0:
			want = 0 // "other"
		default:
			want = 0xFF
		}
		if want != 0xFF {
			end := start
			for end < hi && runClass(s.cls[end]) == want {
				end++
			}
			emit(end)
			continue
		}

		n := 0
		for pos+n < hi && s.cls[pos+n]&cpSpace != 0 {
			n++
		}
		switch {
		case n > 1 && pos+n < hi:
			emit(pos + n - 1)
		case n > 0:
			emit(pos + n)
		default:
			emit(pos + 1)
		}
	}
	return out
}

// runClass maps a class to cpLetter, cpNumber, 0 (neither, nor whitespace)
// or 0xFF (whitespace) for the GPT-2 run rules.
func runClass(f uint8) uint8 {
	switch {
	case f&cpLetter != 0:
		return cpLetter
	case f&cpNumber != 0:
		return cpNumber
	case f&cpSpace != 0:
		return 0xFF
	}
	return 0
}

// isolate splits cps[lo:hi] so that every maximal run of code points for
// which match is true (or, when single, every such code point) is a piece of
// its own; the text between matches forms pieces too. This is what
// llama.cpp's std::regex fallback does with a character-class regex.
func isolate(lo, hi int, out []int, single bool, match func(i int) bool) []int {
	prev := lo
	for i := lo; i < hi; {
		if !match(i) {
			i++
			continue
		}
		if i > prev {
			out = append(out, i)
		}
		j := i + 1
		if !single {
			for j < hi && match(j) {
				j++
			}
		}
		out = append(out, j)
		prev, i = j, j
	}
	if hi > prev {
		out = append(out, hi)
	}
	return out
}

// isolateNumbers is the regex \p{N}: every number code point alone.
func isolateNumbers(s *splitter, lo, hi int, out []int) []int {
	return isolate(lo, hi, out, true, func(i int) bool { return s.cls[i]&cpNumber != 0 })
}

// isolateNumberRuns is the regex \p{N}+.
func isolateNumberRuns(s *splitter, lo, hi int, out []int) []int {
	return isolate(lo, hi, out, false, func(i int) bool { return s.cls[i]&cpNumber != 0 })
}

// isolatePunctRuns is the regex [\p{P}\$\+<=>\^~\|]+ as llama.cpp evaluates
// it: ASCII code points by the fixed set below (llama.cpp's ASCII stand-in
// for \p{P}, which leaves out the backtick), others by category P.
func isolatePunctRuns(s *splitter, lo, hi int, out []int) []int {
	return isolate(lo, hi, out, false, func(i int) bool {
		c := s.cps[i]
		if c < 0x80 {
			return asciiPunctDefault[c]
		}
		return s.cls[i]&cpPunct != 0
	})
}

var asciiPunctDefault = func() (t [128]bool) {
	for _, c := range "!\"#%&'()*,-./:;?@[\\]_{}$+<=>^~|" {
		t[c] = true
	}
	return t
}()

// isolateASCIIDigitTriples is the regex [0-9][0-9][0-9]: consecutive,
// non-overlapping triples of ASCII digits, searched left to right.
func isolateASCIIDigitTriples(s *splitter, lo, hi int, out []int) []int {
	prev := lo
	digit := func(i int) bool { return s.cps[i] >= '0' && s.cps[i] <= '9' }
	for i := lo; i+3 <= hi; {
		if digit(i) && digit(i+1) && digit(i+2) {
			if i > prev {
				out = append(out, i)
			}
			out = append(out, i+3)
			prev = i + 3
			i += 3
			continue
		}
		i++
	}
	if hi > prev {
		out = append(out, hi)
	}
	return out
}
