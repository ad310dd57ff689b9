package push

import (
	"fmt"
	"slices"

	"github.com/skein-cmdb/skein/discovery"
)

// Limits of one POST /api/v1/batches.
const (
	// MaxCIs is the most CIs one request carries.
	MaxCIs = 1000
	// MaxRelationships is the most relationships one request carries.
	MaxRelationships = 5000
)

// identityRules returns the identification rules of class, strongest
// first, as the server applies them (a subclass inherits its family's):
// those of discovery.Model, the server's default model with the proposed
// classes. A class registered on a server at run time is not known here,
// and a batch naming one across chunks is sent whole.
func identityRules(class string) ([][]string, bool) {
	m, err := discovery.Model()
	if err != nil {
		return nil, false
	}
	c, ok := m.Class(class)
	if !ok || len(c.Rules) == 0 {
		return nil, false
	}
	return c.Rules, true
}

// identityEnd names ci by identity: its class and every attribute of its
// class's rules that it has. It fails for a class the model lacks, or a CI
// no rule identifies.
func identityEnd(ci discovery.CI) (discovery.End, error) {
	rules, ok := identityRules(ci.Class)
	if !ok {
		return discovery.End{}, fmt.Errorf("class %s has no identification rules the agent knows", ci.Class)
	}
	var keys []string
	identified := false
	for _, rule := range rules {
		all := true
		for _, k := range rule {
			if _, has := ci.Attributes[k]; has {
				if !slices.Contains(keys, k) {
					keys = append(keys, k)
				}
			} else {
				all = false
			}
		}
		identified = identified || all
	}
	if !identified {
		return discovery.End{}, fmt.Errorf("no identification rule of %s applies (rules %v)", ci.Class, rules)
	}
	return discovery.IdentityOf(ci, ci.Class, keys), nil
}

// chunk is one request's worth of a batch, with the index in the original
// batch of each of its CIs and relationships.
type chunk struct {
	batch discovery.Batch
	cis   []int
	rels  []int
}

// split cuts b into chunks of at most maxCIs CIs and maxRels relationships.
// CIs keep their order; a relationship goes into the last chunk holding one
// of its ref ends (the chunk sent after the other end's), or the last CI
// chunk when both ends are identities, and an end whose CI lives in an
// earlier chunk is rewritten to name it by identity. Relationships beyond
// maxRels in a chunk go into relationship-only chunks sent last, every ref
// end rewritten. No chunk carries the batch's scope: Push gives each chunk
// the scope of a batch of a run (the run gathers the parts).
//
// split returns why a batch that is too large cannot be cut (a CI another
// chunk must name has no identity the agent can spell); the caller then
// sends it whole.
func split(b discovery.Batch, maxCIs, maxRels int) ([]chunk, error) {
	if len(b.CIs) <= maxCIs && len(b.Relationships) <= maxRels {
		return []chunk{{batch: b, cis: indexes(len(b.CIs)), rels: indexes(len(b.Relationships))}}, nil
	}
	if err := b.Validate(); err != nil {
		return nil, fmt.Errorf("the batch is invalid: %w", err)
	}
	nCI := max(1, (len(b.CIs)+maxCIs-1)/maxCIs)
	chunks := make([]chunk, nCI)
	where := make(map[string]int, len(b.CIs)) // ref -> index of its CI
	for i, ci := range b.CIs {
		c := &chunks[i/maxCIs]
		c.batch.CIs = append(c.batch.CIs, ci)
		c.cis = append(c.cis, i)
		if ci.Ref != "" {
			where[ci.Ref] = i
		}
	}
	// rewrite names by identity each ref end whose CI is not in chunk at
	// (-1: in no chunk, as in a relationship-only chunk).
	rewrite := func(r discovery.Relationship, at int) (discovery.Relationship, error) {
		for _, e := range []*discovery.End{&r.From, &r.To} {
			if e.Ref == "" || (at >= 0 && where[e.Ref]/maxCIs == at) {
				continue
			}
			id, err := identityEnd(b.CIs[where[e.Ref]])
			if err != nil {
				return r, fmt.Errorf("cis[%d] (ref %q), which a relationship names from another chunk: %w", where[e.Ref], e.Ref, err)
			}
			*e = id
		}
		return r, nil
	}
	type placed struct {
		rel   discovery.Relationship
		index int
	}
	var overflow []placed
	for j, r := range b.Relationships {
		at := -1
		for _, e := range []discovery.End{r.From, r.To} {
			if e.Ref != "" {
				at = max(at, where[e.Ref]/maxCIs)
			}
		}
		if at < 0 {
			at = nCI - 1
		}
		if len(chunks[at].rels) >= maxRels {
			overflow = append(overflow, placed{r, j})
			continue
		}
		r, err := rewrite(r, at)
		if err != nil {
			return nil, err
		}
		chunks[at].batch.Relationships = append(chunks[at].batch.Relationships, r)
		chunks[at].rels = append(chunks[at].rels, j)
	}
	for len(overflow) > 0 {
		n := min(maxRels, len(overflow))
		c := chunk{batch: discovery.Batch{CIs: []discovery.CI{}}}
		for _, p := range overflow[:n] {
			r, err := rewrite(p.rel, -1)
			if err != nil {
				return nil, err
			}
			c.batch.Relationships = append(c.batch.Relationships, r)
			c.rels = append(c.rels, p.index)
		}
		chunks = append(chunks, c)
		overflow = overflow[n:]
	}
	for i := range chunks {
		chunks[i].batch.Source = b.Source
		if chunks[i].batch.CIs == nil {
			chunks[i].batch.CIs = []discovery.CI{}
		}
	}
	return chunks, nil
}

func indexes(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}
