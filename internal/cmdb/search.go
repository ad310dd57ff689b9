package cmdb

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/store"
)

// SearchFilter narrows a free-text search; empty fields do not filter.
type SearchFilter struct {
	// Class keeps CIs of that class and its subclasses.
	Class string
	// Status keeps CIs with one of these statuses.
	Status []string
}

// SearchHit is one CI found by Search.
type SearchHit struct {
	CI store.CI
	// Score ranks the hit: for each term of the query, the highest
	// search_weight among the attributes it matches, doubled when it
	// matches whole words (not only as a prefix); summed over the terms.
	Score float64
	// Highlights show where the terms matched, one per matching attribute,
	// highest weight first (then by name).
	Highlights []Highlight
}

// Highlight is a snippet of one attribute's value with the matches marked.
type Highlight struct {
	Attribute string
	// Fragments, concatenated, are the snippet; Match marks matched text.
	Fragments []Fragment
}

// Fragment is a piece of a snippet.
type Fragment struct {
	Text  string
	Match bool
}

// SearchResult is one page of a search's ranked hits.
type SearchResult struct {
	store.Page[SearchHit]
	// Truncated reports that more CIs matched than a search considers
	// (store.MaxSearchCandidates); the page ranks the backend's best.
	Truncated bool
}

// snippetBytes is roughly how long a highlight snippet is.
const snippetBytes = 160

// Search finds CIs by the words of their searchable attributes (see
// store.ParseTextQuery for what text may hold), ranked by score, ties by
// ID, paged by p. Pages are taken from the ranked list as it is when each
// page is asked for: a write between two pages may move a CI across the
// page boundary. A store without text search is ErrUnavailable.
func (s *Service) Search(ctx context.Context, text string, f SearchFilter, p store.PageRequest) (SearchResult, error) {
	return s.SearchNodes(ctx, KindCI, text, f, p)
}

// SearchNodes is Search over the nodes of kind (people by their user
// name, name, e-mail...): the searchable attributes of kind's classes.
// f.Status is refused for a kind without a status.
func (s *Service) SearchNodes(ctx context.Context, kind, text string, f SearchFilter, p store.PageRequest) (SearchResult, error) {
	if err := auth.Check(ctx, auth.Kind(kind), auth.Read); err != nil {
		return SearchResult{}, err
	}
	size, err := p.PageSize()
	if err != nil {
		return SearchResult{}, err
	}
	afterScore, afterID, err := decodeSearchCursor(p.After)
	if err != nil {
		return SearchResult{}, err
	}
	terms, err := store.ParseTextQuery(norm.NFC.String(text))
	if err != nil {
		return SearchResult{}, err
	}
	sf, err := s.storeFilter(ctx, kind, Filter{Class: f.Class, Status: f.Status})
	if err != nil {
		return SearchResult{}, err
	}
	ts, ok := s.st.(store.TextSearcher)
	if !ok {
		return SearchResult{}, fmt.Errorf("search: this store has no text search: %w", store.ErrUnavailable)
	}
	// The class and status filters apply in the store, before the candidate
	// limit, so that a filter never empties a page that has matches.
	cis, truncated, err := ts.SearchNodes(ctx, store.TextQuery{Kind: sf.Kind, Terms: terms, Limit: store.MaxSearchCandidates, Classes: sf.Classes, Status: sf.Status})
	if err != nil {
		return SearchResult{}, fmt.Errorf("search: %w", err)
	}
	m := s.Model()
	var hits []SearchHit
	for _, ci := range cis {
		cls, ok := m.Class(ci.Class)
		if !ok {
			continue
		}
		if h, ok := scoreCI(ci, cls.Searchable(), terms); ok {
			hits = append(hits, h)
		}
	}
	sort.Slice(hits, func(i, j int) bool {
		if hits[i].Score != hits[j].Score {
			return hits[i].Score > hits[j].Score
		}
		return hits[i].CI.ID < hits[j].CI.ID
	})
	res := SearchResult{Truncated: truncated}
	res.Total = len(hits)
	start := 0
	if afterID != "" {
		start = sort.Search(len(hits), func(i int) bool {
			h := hits[i]
			return h.Score < afterScore || (h.Score == afterScore && string(h.CI.ID) > afterID)
		})
	}
	end := min(start+size, len(hits))
	res.Items = hits[start:end]
	res.HasNext = end < len(hits)
	for _, h := range res.Items {
		res.Cursors = append(res.Cursors, encodeSearchCursor(h))
	}
	if n := len(res.Cursors); n > 0 {
		res.EndCursor = res.Cursors[n-1]
	}
	return res, nil
}

func encodeSearchCursor(h SearchHit) string {
	return store.EncodeCursor("s" + strconv.FormatFloat(h.Score, 'g', -1, 64) + "/" + string(h.CI.ID))
}

// decodeSearchCursor reverses encodeSearchCursor; id is "" for no cursor.
func decodeSearchCursor(c string) (score float64, id string, err error) {
	key, err := store.DecodeCursor(c)
	if err != nil || key == "" {
		return 0, "", err
	}
	sc, id, ok := strings.Cut(strings.TrimPrefix(key, "s"), "/")
	score, perr := strconv.ParseFloat(sc, 64)
	if !ok || !strings.HasPrefix(key, "s") || perr != nil || len(id) != 36 {
		return 0, "", store.Invalid("after", "not a cursor of this list")
	}
	return score, id, nil
}

// termMatch is where a term matched in one value.
type termMatch struct {
	start, end int
	exact      bool
}

// matchTerm finds every occurrence of term in the tokens of a value.
func matchTerm(spans []store.TokenSpan, term store.TextTerm) []termMatch {
	n := len(term.Tokens)
	var out []termMatch
	for i := 0; i+n <= len(spans); i++ {
		ok := true
		for j := 0; j < n-1 && ok; j++ {
			ok = spans[i+j].Text == term.Tokens[j]
		}
		last, want := spans[i+n-1].Text, term.Tokens[n-1]
		exact := last == want
		if !ok || !(exact || term.Prefix && strings.HasPrefix(last, want)) {
			continue
		}
		out = append(out, termMatch{start: spans[i].Start, end: spans[i+n-1].End, exact: exact})
	}
	return out
}

// scoreCI checks ci against every term in its searchable attributes and
// scores it (see SearchHit.Score); ok is false unless every term matches.
func scoreCI(ci store.CI, attrs []*AttributeDef, terms []store.TextTerm) (SearchHit, bool) {
	best := make([]float64, len(terms))
	type attrHit struct {
		name    string
		weight  int
		value   string
		matches []termMatch
	}
	var found []attrHit
	for _, a := range attrs {
		var values []string
		switch v := ci.Attributes[a.Name].(type) {
		case string:
			values = []string{v}
		case []string:
			values = v
		}
		w := max(a.SearchWeight, 1)
		highlighted := false
		for _, v := range values {
			spans := store.SplitTokens(v)
			var ms []termMatch
			for i, t := range terms {
				tm := matchTerm(spans, t)
				for _, m := range tm {
					sc := float64(w)
					if m.exact {
						sc *= 2
					}
					best[i] = max(best[i], sc)
				}
				ms = append(ms, tm...)
			}
			// Every value scores; the first that matches is the one
			// highlighted for the attribute.
			if len(ms) > 0 && !highlighted {
				found = append(found, attrHit{name: a.Name, weight: w, value: v, matches: ms})
				highlighted = true
			}
		}
	}
	h := SearchHit{CI: ci}
	for _, b := range best {
		if b == 0 {
			return SearchHit{}, false
		}
		h.Score += b
	}
	sort.SliceStable(found, func(i, j int) bool { return found[i].weight > found[j].weight })
	for _, f := range found {
		h.Highlights = append(h.Highlights, Highlight{Attribute: f.name, Fragments: snippet(f.value, f.matches)})
	}
	return h, true
}

// snippet cuts value to about snippetBytes around its first match and
// splits it into fragments, the matched ones marked.
func snippet(value string, ms []termMatch) []Fragment {
	sort.Slice(ms, func(i, j int) bool { return ms[i].start < ms[j].start })
	from, to := 0, len(value)
	if len(value) > snippetBytes {
		from = max(0, ms[0].start-snippetBytes/3)
		for from > 0 && !utf8.RuneStart(value[from]) {
			from--
		}
		to = min(len(value), from+snippetBytes)
		for to < len(value) && !utf8.RuneStart(value[to]) {
			to++
		}
	}
	var out []Fragment
	add := func(s string, match bool) {
		if s == "" {
			return
		}
		if n := len(out); n > 0 && out[n-1].Match == match {
			out[n-1].Text += s
			return
		}
		out = append(out, Fragment{Text: s, Match: match})
	}
	if from > 0 {
		add("…", false)
	}
	pos := from
	for _, m := range ms {
		if m.start < pos || m.end > to {
			continue // overlaps an earlier match, or beyond the snippet
		}
		add(value[pos:m.start], false)
		add(value[m.start:m.end], true)
		pos = m.end
	}
	add(value[pos:to], false)
	if to < len(value) {
		add("…", false)
	}
	return out
}
