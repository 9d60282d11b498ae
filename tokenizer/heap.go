package tokenizer

// candidate is a merge candidate that knows whether it goes before another
// (BPE: lower rank, then leftmost; SentencePiece: higher score, then leftmost).
type candidate[T any] interface {
	*T
	before(*T) bool
}

// mergeQueue is a binary min-heap of merge candidates, reused across words
// so that encoding allocates nothing in steady state.
type mergeQueue[T any, P candidate[T]] struct {
	h []T
}

func (q *mergeQueue[T, P]) reset()   { q.h = q.h[:0] }
func (q *mergeQueue[T, P]) len() int { return len(q.h) }

func (q *mergeQueue[T, P]) push(c T) {
	h := append(q.h, c)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !P(&h[i]).before(&h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	q.h = h
}

func (q *mergeQueue[T, P]) pop() T {
	h := q.h
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	for i := 0; ; {
		l := 2*i + 1
		if l >= len(h) {
			break
		}
		m := l
		if r := l + 1; r < len(h) && P(&h[r]).before(&h[l]) {
			m = r
		}
		if !P(&h[m]).before(&h[i]) {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	q.h = h
	return top
}
