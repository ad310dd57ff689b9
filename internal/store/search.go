package store

import (
	"context"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Free-text search. The words of a node's text attributes are kept in the
// backend's full-text facility (SQLite FTS5, a Neo4j full-text index) as a
// search document (SearchDocument): the words as SearchTokens splits and
// folds them, separated by spaces, so that both backends index exactly the
// same terms and neither backend's own analyser or query syntax ever sees
// what a user typed. A TextQuery is built from the user's text by
// ParseTextQuery and rendered by each backend into its own syntax from
// tokens that hold only letters, digits and marks.
//
// A backend answers with candidates (every node whose document holds every
// token of the query, a prefix token as a prefix); the layer above checks
// each candidate against the attributes its model declares searchable,
// where phrases must be contiguous, and ranks them. Candidates are
// therefore a superset, and both backends rank alike.

// Limits of a text query.
const (
	// MaxSearchText is the longest accepted query text, in bytes.
	MaxSearchText = 256
	// MaxSearchTerms is how many terms (words, phrases) a query may hold.
	MaxSearchTerms = 16
	// MaxSearchTokens is how many tokens all terms hold together.
	MaxSearchTokens = 32
	// MaxSearchCandidates is how many candidates a search considers at
	// most: the backend's best by its own relevance, then by ID.
	MaxSearchCandidates = 1000
	// MaxTokenRunes is the length at which tokens are cut, in documents and
	// queries alike (Lucene's analysers split longer ones).
	MaxTokenRunes = 64
)

// TextTerm is one term of a text query: a word (one token) or a phrase
// (several tokens that must be adjacent, in order), its last token a prefix
// when Prefix is set.
type TextTerm struct {
	Tokens []string
	Prefix bool
}

// TextQuery asks a TextSearcher for candidates.
type TextQuery struct {
	// Terms must all match; at least one.
	Terms []TextTerm
	// Limit is how many candidates to return at most (1..MaxSearchCandidates).
	Limit int
	// Kind restricts candidates to nodes of that kind (KindCI for CIs);
	// AnyKind searches every kind.
	Kind ObjectKind
	// Classes and Status, when set, restrict candidates to nodes of these
	// exact classes and statuses, before Limit cuts the list.
	Classes []string
	Status  []string
}

// SearchToken is one token the query needs in a document.
type SearchToken struct {
	Text   string
	Prefix bool
}

// Tokens returns the distinct tokens every candidate's document must hold,
// sorted: a phrase's tokens each, the last one of a prefix term as a prefix.
func (q TextQuery) Tokens() []SearchToken {
	seen := map[SearchToken]bool{}
	var out []SearchToken
	for _, t := range q.Terms {
		for i, tok := range t.Tokens {
			st := SearchToken{Text: tok, Prefix: t.Prefix && i == len(t.Tokens)-1}
			if !seen[st] {
				seen[st] = true
				out = append(out, st)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Text != out[j].Text {
			return out[i].Text < out[j].Text
		}
		return !out[i].Prefix && out[j].Prefix
	})
	return out
}

// Check validates q: at least one term, limits respected, tokens made of
// letters, digits and marks only (so no backend query syntax can appear).
func (q TextQuery) Check() error {
	if len(q.Terms) == 0 {
		return Invalid("text", "must contain at least one letter or digit")
	}
	if len(q.Terms) > MaxSearchTerms {
		return Invalid("text", "at most %d words or phrases", MaxSearchTerms)
	}
	if q.Limit < 1 || q.Limit > MaxSearchCandidates {
		return Invalid("limit", "must be 1..%d", MaxSearchCandidates)
	}
	n := 0
	for _, t := range q.Terms {
		if len(t.Tokens) == 0 {
			return Invalid("text", "a term without words")
		}
		for _, tok := range t.Tokens {
			n++
			if tok == "" || utf8.RuneCountInString(tok) > MaxTokenRunes {
				return Invalid("text", "a word of 1..%d letters or digits", MaxTokenRunes)
			}
			for _, r := range tok {
				if !tokenRune(r) {
					return Invalid("text", "a word holds a character other than a letter or digit")
				}
			}
		}
	}
	if n > MaxSearchTokens {
		return Invalid("text", "at most %d words", MaxSearchTokens)
	}
	return nil
}

// TextSearcher is the optional power of a backend to search nodes by the
// words of their text attributes (found by type assertion).
type TextSearcher interface {
	// SearchNodes returns at most q.Limit nodes of q.Kind whose search document holds
	// every token of q, best first by the backend's relevance, ties by ID;
	// truncated reports that more matched. Writes are visible to the next
	// search. A q that fails Check is an *InvalidError.
	SearchNodes(ctx context.Context, q TextQuery) (nodes []Node, truncated bool, err error)
}

// TokenSpan is a token of a text with its place in it.
type TokenSpan struct {
	// Text is the folded token (FoldText), cut at MaxTokenRunes.
	Text string
	// Start and End are byte offsets of the token in the original text.
	Start, End int
}

func tokenRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || unicode.IsNumber(r)
}

// SplitTokens splits s into its tokens: maximal runs of letters, digits and
// marks, folded (FoldText, rune by rune) and cut at MaxTokenRunes; everything
// else separates them. A run that folds to nothing is no token.
func SplitTokens(s string) []TokenSpan {
	var out []TokenSpan
	start := -1
	var buf []byte
	flush := func(end int) {
		if start < 0 {
			return
		}
		if buf = foldToken(buf[:0], s[start:end]); len(buf) > 0 {
			out = append(out, TokenSpan{Text: string(buf), Start: start, End: end})
		}
		start = -1
	}
	for i, r := range s {
		if tokenRune(r) {
			if start < 0 {
				start = i
			}
			continue
		}
		flush(i)
	}
	flush(len(s))
	return out
}

// foldToken appends the token of run (a run of token runes) to dst: each
// rune folded (FoldText), those that are still letters, digits or marks
// kept, at most MaxTokenRunes.
func foldToken(dst []byte, run string) []byte {
	n := 0
	for _, r := range run {
		if n == MaxTokenRunes {
			break
		}
		if lr := unicode.ToLower(r); tokenRune(lr) {
			dst = utf8.AppendRune(dst, lr)
			n++
		}
	}
	return dst
}

// SearchTokens returns the tokens of s (see SplitTokens), text only.
func SearchTokens(s string) []string {
	spans := SplitTokens(s)
	out := make([]string, len(spans))
	for i, sp := range spans {
		out[i] = sp.Text
	}
	return out
}

// AppendSearchTokens appends the tokens of s to a search document, each
// after a space unless doc is empty. It allocates nothing beyond doc's
// growth: backends call it on every write.
func AppendSearchTokens(doc []byte, s string) []byte {
	start := -1
	flush := func(end int) {
		if start < 0 {
			return
		}
		mark := len(doc)
		if mark > 0 {
			doc = append(doc, ' ')
		}
		if tok := foldToken(doc, s[start:end]); len(tok) > len(doc) {
			doc = tok
		} else {
			doc = doc[:mark] // folded to nothing
		}
		start = -1
	}
	for i, r := range s {
		if tokenRune(r) {
			if start < 0 {
				start = i
			}
			continue
		}
		flush(i)
	}
	flush(len(s))
	return doc
}

// SearchDocument returns the search document of a CI's attributes: the
// tokens of every string and list value, attributes in name order, joined
// by spaces. It is model-free (every text attribute is in it), so backends
// build and backfill it without the model; the layer above checks matches
// against the searchable attributes. Changing it changes what stored
// documents mean: backends must rebuild them.
func SearchDocument(attrs Attributes) string {
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var doc []byte
	for _, k := range keys {
		switch v := attrs[k].(type) {
		case string:
			doc = AppendSearchTokens(doc, v)
		case []string:
			for _, s := range v {
				doc = AppendSearchTokens(doc, s)
			}
		}
	}
	return string(doc)
}

// ParseTextQuery parses what a user typed into terms: words separated by
// spaces, "quoted phrases", and a trailing * making a word's or phrase's
// last token a prefix. A word with inner punctuation ("10.0.0.1",
// "web-01") is the phrase of its tokens. Nothing else is syntax: operators
// of any query language are words or separators. Text with no letter or
// digit, or over the limits, is an *InvalidError on "text".
func ParseTextQuery(text string) ([]TextTerm, error) {
	if len(text) > MaxSearchText {
		return nil, Invalid("text", "at most %d bytes", MaxSearchText)
	}
	if !utf8.ValidString(text) {
		return nil, Invalid("text", "must be valid UTF-8")
	}
	var terms []TextTerm
	ntok := 0
	add := func(raw string, prefix bool) error {
		toks := SearchTokens(raw)
		if len(toks) == 0 {
			return nil
		}
		if len(terms) == MaxSearchTerms {
			return Invalid("text", "at most %d words or phrases", MaxSearchTerms)
		}
		if ntok += len(toks); ntok > MaxSearchTokens {
			return Invalid("text", "at most %d words", MaxSearchTokens)
		}
		// A prefix cut at MaxTokenRunes is a whole token of the document.
		terms = append(terms, TextTerm{Tokens: toks, Prefix: prefix && utf8.RuneCountInString(toks[len(toks)-1]) < MaxTokenRunes})
		return nil
	}
	rest := text
	for rest != "" {
		r, size := utf8.DecodeRuneInString(rest)
		switch {
		case unicode.IsSpace(r):
			rest = rest[size:]
		case r == '"':
			body := rest[1:]
			end := strings.IndexByte(body, '"')
			if end < 0 {
				end = len(body) // an unclosed quote runs to the end
				rest = ""
			} else {
				rest = body[end+1:]
			}
			prefix := strings.HasPrefix(rest, "*")
			if err := add(body[:end], prefix); err != nil {
				return nil, err
			}
		default:
			end := strings.IndexFunc(rest, func(r rune) bool { return unicode.IsSpace(r) || r == '"' })
			if end < 0 {
				end = len(rest)
			}
			word := rest[:end]
			rest = rest[end:]
			if err := add(word, strings.HasSuffix(word, "*")); err != nil {
				return nil, err
			}
		}
	}
	if len(terms) == 0 {
		return nil, Invalid("text", "must contain at least one letter or digit")
	}
	return terms, nil
}
