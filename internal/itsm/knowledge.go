package itsm

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/impact"
	"github.com/skein-cmdb/skein/internal/store"
)

// Knowledge: articles (KB0010001...) written in markdown as drafts,
// submitted for review, published, revised and retired. An article is a
// record like an incident: a node of kind knowledge with a number, a
// workflow, an audit trail, and edges to what it is about (ABOUT a CI,
// DOCUMENTS a problem: a known error's article, ANSWERS an incident).
//
// Versions: each publish is a version. The article node holds the text
// being written (and, while published, the text published); the publish
// that makes version N also writes a node of kind knowledge_version
// (identified by the article's number and N, VERSION_OF the article) with
// the title and body as published, so that every published version stays
// readable however the article changes afterwards. The version node is
// written right after the transition, as a second write: should it fail,
// the error is returned and the article is published without the copy
// of that version (Versions lists the copies there are).
//
// Search: articles are found by the words of their title, keywords,
// category and body through the model's searchable attributes and the
// store's full-text index (cmdb.Service.SearchNodes, the same ranking and
// highlighting on both backends), then filtered by state and by the CI
// they are about.

// Knowledge kinds and links.
const (
	// KindKnowledge is the model kind of knowledge articles (class
	// KnowledgeArticle).
	KindKnowledge = "knowledge"
	// KindKnowledgeVersion is the model kind of their published versions
	// (class KnowledgeVersion).
	KindKnowledgeVersion = "knowledge_version"
	// RelAbout links an article to a CI it is about.
	RelAbout = "ABOUT"
	// RelDocuments links an article to the problem it documents (a known
	// error's article).
	RelDocuments = "DOCUMENTS"
	// RelAnswers links an article to an incident it answers.
	RelAnswers = "ANSWERS"
	// RelHelpsWith links an article to a catalog item it helps with.
	RelHelpsWith = "HELPS_WITH"
	// RelVersionOf links a published version to its article.
	RelVersionOf = "VERSION_OF"
)

// Article states, as stored.
const (
	ArticleDraft     = "draft"
	ArticleReview    = "review"
	ArticlePublished = "published"
	ArticleRetired   = "retired"
)

// Article actions.
const (
	ActionSubmit   = "submit"
	ActionSendBack = "send_back"
	ActionPublish  = "publish"
	ActionRetire   = "retire"
	// Revising a published article is ActionRevise ("revise"), as for a
	// change.
)

// articleEditable are the attributes createArticle and updateArticle take.
var articleEditable = []string{"short_description", "body", "keywords", "category"}

// bodyGiven is a guard that the article has a body that is not blank.
var bodyGiven = Guard{Name: "body_given", Field: "attributes.body", Check: func(r Record) error {
	if b, _ := r.Attributes["body"].(string); strings.TrimSpace(b) == "" {
		return fmt.Errorf("the article has no body: write it before it is reviewed or published")
	}
	return nil
}}

// KnowledgeWorkflow returns the knowledge article workflow: Draft ->
// Review (submit, with a body) -> Published (publish: the next version);
// Review -> Draft (send back, with notes); Published -> Draft (revise: the
// next publish makes the next version; the published version stays
// readable) or Retired (retire).
func KnowledgeWorkflow() *Workflow {
	return &Workflow{
		Kind:    KindKnowledge,
		Initial: ArticleDraft,
		States: []State{
			{ArticleDraft, 1, "Draft"}, {ArticleReview, 2, "Review"}, {ArticlePublished, 3, "Published"}, {ArticleRetired, 4, "Retired"},
		},
		Transitions: []Transition{
			{Action: ActionSubmit, From: []string{ArticleDraft}, To: ArticleReview, Guards: []Guard{bodyGiven}},
			{Action: ActionSendBack, From: []string{ArticleReview}, To: ArticleDraft, Inputs: []string{"review_notes"},
				Guards: []Guard{required("review_notes", "a reason (review notes)")},
				Set: func(r Record) store.Attributes {
					return store.Attributes{"review_notes": r.Input["review_notes"]}
				}},
			{Action: ActionPublish, From: []string{ArticleReview}, To: ArticlePublished, Guards: []Guard{bodyGiven},
				Set: func(r Record) store.Attributes {
					v, _ := r.Attributes["published_version"].(int64)
					return store.Attributes{"published_version": v + 1, "published_at": r.At, "review_notes": nil}
				}},
			{Action: ActionRevise, From: []string{ArticlePublished}, To: ArticleDraft},
			{Action: ActionRetire, From: []string{ArticlePublished}, To: ArticleRetired,
				Set: func(r Record) store.Attributes { return store.Attributes{"retired_at": r.At} }},
		},
	}
}

// KnowledgeWorkflow returns the workflow knowledge articles follow.
func (s *Service) KnowledgeWorkflow() *Workflow { return s.knowledge }

// ArticleLinks are the edges of an article a write sets; a nil field
// leaves them as they are, an empty list removes them.
type ArticleLinks struct {
	CIs, Problems, Incidents, CatalogItems *[]store.ID
}

// checkArticleLinks checks, before anything is written, that every link
// names a node of the right kind.
func (s *Service) checkArticleLinks(ctx context.Context, l ArticleLinks) error {
	if l.CIs != nil {
		if err := s.checkCIs(ctx, *l.CIs, "ciIds"); err != nil {
			return err
		}
	}
	for _, c := range []struct {
		ids         *[]store.ID
		kind, field string
	}{{l.Problems, KindProblem, "problemIds"}, {l.Incidents, KindIncident, "incidentIds"}, {l.CatalogItems, KindCatalogItem, "catalogItemIds"}} {
		if c.ids == nil || len(*c.ids) == 0 {
			continue
		}
		if len(*c.ids) > store.MaxBatch {
			return store.Invalid(c.field, "at most %d", store.MaxBatch)
		}
		found, err := s.cmdb.Nodes(ctx, c.kind, *c.ids)
		if err != nil {
			return err
		}
		for i, id := range *c.ids {
			if _, ok := found[id]; !ok {
				return store.NoNode(fmt.Sprintf("%s[%d]", c.field, i), store.ObjectKind(c.kind))
			}
		}
	}
	return nil
}

// setArticleLinks writes the links l names of article id.
func (s *Service) setArticleLinks(ctx context.Context, actor store.Actor, id store.ID, l ArticleLinks) error {
	for _, c := range []struct {
		ids              *[]store.ID
		rel, kind, field string
	}{{l.CIs, RelAbout, cmdb.KindCI, "ciIds"}, {l.Problems, RelDocuments, KindProblem, "problemIds"}, {l.Incidents, RelAnswers, KindIncident, "incidentIds"},
		{l.CatalogItems, RelHelpsWith, KindCatalogItem, "catalogItemIds"}} {
		if c.ids == nil {
			continue
		}
		if _, err := s.cmdb.SetLinks(ctx, actor, id, c.rel, *c.ids, c.kind, c.field, true); err != nil {
			return err
		}
	}
	return nil
}

// CreateArticle writes a new article in state draft, numbered KB0010001,
// KB0010002..., linked to the CIs it is about and the problems and
// incidents it documents and answers. The caller needs create knowledge.
func (s *Service) CreateArticle(ctx context.Context, actor store.Actor, attrs map[string]any, l ArticleLinks) (store.Node, error) {
	if err := auth.Check(ctx, KindKnowledge, auth.Create); err != nil {
		return store.Node{}, err
	}
	if err := s.checkArticleLinks(ctx, l); err != nil {
		return store.Node{}, err
	}
	k := recordKind{kind: KindKnowledge, prefix: "KB", workflow: s.knowledge, editable: articleEditable}
	n, err := s.open(ctx, actor, k, RecordInput{Attributes: attrs}, nil)
	if err != nil {
		return n, err
	}
	return n, s.setArticleLinks(ctx, actor, n.ID, l)
}

// UpdateArticle changes a draft article's title, body, keywords and
// category, and its links. A published article is revised (back to draft)
// before it is changed, so that what readers read is always a version
// that was reviewed: changing it in another state is a CONFLICT naming
// its state. Links may change in any state but retired.
func (s *Service) UpdateArticle(ctx context.Context, actor store.Actor, id store.ID, expected int64, attrs map[string]any, l ArticleLinks) (store.Node, error) {
	if err := s.checkArticleLinks(ctx, l); err != nil {
		return store.Node{}, err
	}
	k := recordKind{kind: KindKnowledge, workflow: s.knowledge, editable: articleEditable}
	n, err := s.update(ctx, actor, k, id, expected, RecordInput{Attributes: attrs}, func(cur *store.Node, out store.Attributes, _ time.Time) (store.Attributes, error) {
		st, _ := cur.Attributes["state"].(string)
		if st == ArticleRetired || len(out) > 0 && st != ArticleDraft {
			return nil, fmt.Errorf("%s %v is %s: only a draft is edited (revise a published article first): %w", KindKnowledge, cur.Attributes["number"], st, store.ErrConflict)
		}
		return out, nil
	})
	if err != nil {
		return n, err
	}
	return n, s.setArticleLinks(ctx, actor, id, l)
}

// ActOnArticle runs one workflow action on an article (submit, send_back
// with review_notes, publish, revise, retire). Publishing writes the
// published text as version published_version (see the package comment
// of this file).
func (s *Service) ActOnArticle(ctx context.Context, actor store.Actor, id store.ID, expected int64, action string, input map[string]any) (store.Node, error) {
	if err := auth.Check(ctx, KindKnowledge, auth.Update); err != nil {
		return store.Node{}, err
	}
	if action == ActionPublish {
		if err := auth.Check(ctx, KindKnowledgeVersion, auth.Create); err != nil {
			return store.Node{}, err
		}
	}
	if err := s.knowledge.checkInputs(action, input); err != nil {
		return store.Node{}, err
	}
	res, err := s.act(ctx, actor, KindKnowledge, s.knowledge, id, expected, action, input, Facts{}, nil)
	if err != nil {
		return res.Node, err
	}
	if action != ActionPublish {
		return res.Node, nil
	}
	a := res.Node.Attributes
	v := map[string]any{"article": a["number"], "version": a["published_version"], "short_description": a["short_description"],
		"body": a["body"], "published_at": a["published_at"], "published_by": actor.Name}
	vres, err := s.cmdb.WriteNode(ctx, actor, KindKnowledgeVersion, cmdb.NodeWrite{
		Input: v, Verb: auth.Create,
		Decide: func(_ *store.Node, input store.Attributes, _ time.Time) (store.Attributes, error) { return input, nil },
	})
	if err != nil {
		return res.Node, fmt.Errorf("%v is published, but its version %v was not kept: %w", a["number"], a["published_version"], err)
	}
	_, err = s.cmdb.SetLinks(ctx, actor, vres.Node.ID, RelVersionOf, []store.ID{id}, KindKnowledge, "id", false)
	return res.Node, err
}

// ArticleByNumber returns the article numbered number, if there is one.
func (s *Service) ArticleByNumber(ctx context.Context, number string) (store.Node, bool, error) {
	return s.byNumber(ctx, KindKnowledge, number)
}

// RecordArticleView counts one view of an article (any state but
// retired). It is a write of its own, audited; the caller needs feedback
// on knowledge, which readers with a token have.
func (s *Service) RecordArticleView(ctx context.Context, actor store.Actor, id store.ID) (store.Node, error) {
	return s.feedback(ctx, actor, id, "view_count")
}

// VoteArticle records the caller's vote that a published article was
// helpful, or not. A caller has one vote per article: voting again the
// same way changes nothing, voting the other way moves the vote from one
// count to the other. The caller's earlier vote is read from the audit
// trail (the writes of the counters under the caller's name), before the
// write: two votes of one caller at the same instant may both count.
func (s *Service) VoteArticle(ctx context.Context, actor store.Actor, id store.ID, helpful bool) (store.Node, error) {
	if err := auth.Check(ctx, KindKnowledge, auth.Feedback); err != nil {
		return store.Node{}, err
	}
	w, err := auth.WriteActor(ctx, actor)
	if err != nil {
		return store.Node{}, err
	}
	prev, err := s.lastVote(ctx, id, w.Name)
	if err != nil {
		return store.Node{}, err
	}
	up, down := "helpful_count", "not_helpful_count"
	if !helpful {
		up, down = down, up
	}
	res, err := s.cmdb.WriteNode(ctx, actor, KindKnowledge, cmdb.NodeWrite{
		ID: id, Verb: auth.Feedback,
		Decide: func(cur *store.Node, _ store.Attributes, _ time.Time) (store.Attributes, error) {
			if st, _ := cur.Attributes["state"].(string); st != ArticlePublished {
				return nil, fmt.Errorf("%s %v is %s: only a published article is voted on: %w", KindKnowledge, cur.Attributes["number"], st, store.ErrConflict)
			}
			if prev == up {
				return store.Attributes{}, nil // the same vote again
			}
			n, _ := cur.Attributes[up].(int64)
			out := store.Attributes{up: n + 1}
			if prev == down {
				if m, _ := cur.Attributes[down].(int64); m > 0 {
					out[down] = m - 1
				}
			}
			return out, nil
		},
	})
	return res.Node, err
}

// lastVote returns the counter the latest vote of the caller named name
// on article id raised ("helpful_count", "not_helpful_count"), or "" if
// there is none among the caller's last store.MaxPageSize writes of it.
func (s *Service) lastVote(ctx context.Context, id store.ID, name string) (string, error) {
	page, err := s.cmdb.Audit(auth.AsProcess(ctx), store.AuditFilter{Objects: []string{string(id)}, Kinds: []store.ObjectKind{KindKnowledge}, Actor: name},
		store.PageRequest{First: store.MaxPageSize})
	if err != nil {
		return "", err
	}
	for _, r := range page.Items { // newest first
		for _, c := range r.Changes {
			if c.Field != "helpful_count" && c.Field != "not_helpful_count" {
				continue
			}
			if countOf(c.After) > countOf(c.Before) {
				return c.Field, nil
			}
		}
	}
	return "", nil
}

// feedback adds one to counter of article id, unless it is retired.
func (s *Service) feedback(ctx context.Context, actor store.Actor, id store.ID, counter string) (store.Node, error) {
	res, err := s.cmdb.WriteNode(ctx, actor, KindKnowledge, cmdb.NodeWrite{
		ID: id, Verb: auth.Feedback,
		Decide: func(cur *store.Node, _ store.Attributes, _ time.Time) (store.Attributes, error) {
			if st, _ := cur.Attributes["state"].(string); st == ArticleRetired {
				return nil, fmt.Errorf("%s %v is retired: its views are no longer counted: %w", KindKnowledge, cur.Attributes["number"], store.ErrConflict)
			}
			n, _ := cur.Attributes[counter].(int64)
			return store.Attributes{counter: n + 1}, nil
		},
	})
	return res.Node, err
}

// ArticleVersions returns the published versions kept of article id,
// newest first.
func (s *Service) ArticleVersions(ctx context.Context, id store.ID) ([]store.Node, error) {
	for _, k := range []auth.Kind{KindKnowledgeVersion, auth.KindRelationship} {
		if err := auth.Check(ctx, k, auth.Read); err != nil {
			return nil, err
		}
	}
	rels, err := s.st.RelationshipsOf(ctx, []store.ID{id}, store.In, []string{RelVersionOf})
	if err != nil {
		return nil, err
	}
	ids := make([]store.ID, len(rels[id]))
	for i, r := range rels[id] {
		ids[i] = r.Source
	}
	nodes, err := s.nodesOf(ctx, KindKnowledgeVersion, ids)
	if err != nil {
		return nil, err
	}
	out := make([]store.Node, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b store.Node) int {
		x, _ := a.Attributes["version"].(int64)
		y, _ := b.Attributes["version"].(int64)
		return int(y - x)
	})
	return out, nil
}

// ArticlesLinkedTo returns a page of the articles linked to target by rel
// (RelAbout: a CI; RelDocuments: a problem; RelAnswers: an incident;
// RelHelpsWith: a catalog item),
// newest first.
func (s *Service) ArticlesLinkedTo(ctx context.Context, target store.ID, rel string, p store.PageRequest) (store.Page[store.Node], error) {
	if err := auth.Check(ctx, KindKnowledge, auth.Read); err != nil {
		return store.Page[store.Node]{}, err
	}
	return s.linkedFrom(ctx, target, rel, KindKnowledge, nil, p)
}

// LinkedFromArticle returns the nodes of kind article id links to by rel.
func (s *Service) LinkedFromArticle(ctx context.Context, id store.ID, rel, kind string) ([]store.Node, error) {
	if err := auth.Check(ctx, auth.KindRelationship, auth.Read); err != nil {
		return nil, err
	}
	rels, err := s.st.RelationshipsOf(ctx, []store.ID{id}, store.Out, []string{rel})
	if err != nil {
		return nil, err
	}
	ids := make([]store.ID, len(rels[id]))
	for i, r := range rels[id] {
		ids[i] = r.Target
	}
	nodes, err := s.nodesOf(ctx, kind, ids)
	if err != nil {
		return nil, err
	}
	out := make([]store.Node, 0, len(nodes))
	for _, id := range ids {
		if n, ok := nodes[id]; ok {
			out = append(out, n)
		}
	}
	return out, nil
}

// ArticleForCI is an article about a CI or about one of the CIs it
// depends on.
type ArticleForCI struct {
	Article store.Node
	// CI is the CI the article is about; Distance how many hops of
	// dependency from the CI asked about (0: that CI).
	CI       store.ID
	Distance int
}

// ArticlesForCI returns the articles about CI ci and about what it
// depends on, up to depth hops by the impact rules (0: only ci), nearest
// first, then by number; with publishedOnly, the published ones. An
// article about several CIs of the tree is listed once, at the nearest.
func (s *Service) ArticlesForCI(ctx context.Context, ci store.ID, depth int, publishedOnly bool) ([]ArticleForCI, error) {
	for _, k := range []auth.Kind{KindKnowledge, auth.KindCI, auth.KindRelationship} {
		if err := auth.Check(ctx, k, auth.Read); err != nil {
			return nil, err
		}
	}
	tree := map[store.ID]int{ci: 0}
	if depth > 0 {
		if s.impact == nil {
			return nil, fmt.Errorf("itsm: no impact analyzer configured")
		}
		res, err := s.impact.Dependencies(ctx, ci, depth, nil, impact.ReachOptions{})
		if err != nil {
			return nil, store.WithField(err, "depth")
		}
		for _, n := range res.Nodes {
			if d, seen := tree[n.CI.ID]; !seen || n.Depth < d {
				tree[n.CI.ID] = n.Depth
			}
		}
	}
	cis := make([]store.ID, 0, len(tree))
	for id := range tree {
		cis = append(cis, id)
	}
	best := map[store.ID]ArticleForCI{}
	for lo := 0; lo < len(cis); lo += store.MaxBatch {
		rels, err := s.st.RelationshipsOf(ctx, cis[lo:min(lo+store.MaxBatch, len(cis))], store.In, []string{RelAbout})
		if err != nil {
			return nil, err
		}
		for target, rs := range rels {
			for _, r := range rs {
				d := tree[target]
				if b, seen := best[r.Source]; !seen || d < b.Distance || d == b.Distance && target < b.CI {
					best[r.Source] = ArticleForCI{CI: target, Distance: d}
				}
			}
		}
	}
	ids := make([]store.ID, 0, len(best))
	for id := range best {
		ids = append(ids, id)
	}
	nodes, err := s.nodesOf(ctx, KindKnowledge, ids)
	if err != nil {
		return nil, err
	}
	var out []ArticleForCI
	for id, a := range best {
		n, ok := nodes[id]
		if !ok || publishedOnly && n.Attributes["state"] != ArticlePublished {
			continue
		}
		a.Article = n
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b ArticleForCI) int {
		if a.Distance != b.Distance {
			return a.Distance - b.Distance
		}
		return strings.Compare(fmt.Sprint(a.Article.Attributes["number"]), fmt.Sprint(b.Article.Attributes["number"]))
	})
	return out, nil
}

// KnowledgeQuery is a knowledge search.
type KnowledgeQuery struct {
	// Text is the words to find (store.ParseTextQuery).
	Text string
	// States keeps articles in one of these states (all when empty).
	States []string
	// CI keeps articles about that CI ("" for any).
	CI store.ID
	// First is how many hits to return (1 to store.MaxSearchCandidates).
	First int
}

// KnowledgeHits is the ranked result of a knowledge search.
type KnowledgeHits struct {
	Hits []cmdb.SearchHit
	// Total is how many articles matched, filters applied.
	Total int
	// Truncated says more articles matched the words than a search
	// considers (store.MaxSearchCandidates): the filters ran on the best
	// of them, so Total may be short.
	Truncated bool
}

// SearchArticles finds articles by the words of their title, keywords,
// category and body, ranked as cmdb.Service.SearchNodes ranks (the
// attributes' search weights: title 4, keywords 3, category 2, body 1,
// doubled for whole words), with highlights, filtered by state and by the
// CI they are about. The filters apply to the best store.MaxSearchCandidates
// matches.
func (s *Service) SearchArticles(ctx context.Context, q KnowledgeQuery) (KnowledgeHits, error) {
	var about map[store.ID]bool
	if q.CI != "" {
		if err := auth.Check(ctx, auth.KindRelationship, auth.Read); err != nil {
			return KnowledgeHits{}, err
		}
		rels, err := s.st.RelationshipsOf(ctx, []store.ID{q.CI}, store.In, []string{RelAbout})
		if err != nil {
			return KnowledgeHits{}, err
		}
		about = map[store.ID]bool{}
		for _, r := range rels[q.CI] {
			about[r.Source] = true
		}
	}
	for i, st := range q.States {
		if _, ok := s.knowledge.State(st); !ok {
			return KnowledgeHits{}, store.Invalid(fmt.Sprintf("state[%d]", i), "%q is not a state of knowledge articles", st)
		}
	}
	res, err := s.cmdb.SearchNodes(ctx, KindKnowledge, q.Text, cmdb.SearchFilter{}, store.PageRequest{First: store.MaxSearchCandidates})
	if err != nil {
		return KnowledgeHits{}, err
	}
	out := KnowledgeHits{Truncated: res.Truncated || res.HasNext}
	for _, h := range res.Items {
		st, _ := h.CI.Attributes["state"].(string)
		if len(q.States) > 0 && !slices.Contains(q.States, st) || about != nil && !about[h.CI.ID] {
			continue
		}
		out.Total++
		if len(out.Hits) < q.First {
			out.Hits = append(out.Hits, h)
		}
	}
	return out, nil
}

// countOf returns a counter's value as an audit record holds it (an
// integer, or a JSON number after a round trip), 0 for none.
func countOf(v any) float64 {
	switch n := v.(type) {
	case int64:
		return float64(n)
	case int:
		return float64(n)
	case float64:
		return n
	case json.Number:
		f, _ := n.Float64()
		return f
	}
	return 0
}
