package graph

import (
	"context"
	"fmt"
	"strings"

	"github.com/99designs/gqlgen/graphql"

	"github.com/skein-cmdb/skein/graph/model"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/itsm"
	"github.com/skein-cmdb/skein/internal/store"
)

// Knowledge articles: the view of a node of kind knowledge and the
// parsing of their mutations' inputs. Resolvers in knowledge.resolvers.go
// call these.

// articleInputFields are the attributes whose input field is not their
// camelCase name.
var articleInputFields = map[string]string{"short_description": "title"}

func articleView(wf *itsm.Workflow) func(n store.Node) *model.KnowledgeArticle {
	return func(n store.Node) *model.KnowledgeArticle {
		a := n.Attributes
		st := strOr(a, "state", itsm.ArticleDraft)
		v := &model.KnowledgeArticle{
			ID: globalID(typeKnowledge, n.ID), Attributes: attributesOut(a),
			Version: versionOut(n.Version), CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt, Raw: n,
			Body: strAttr(a, "body"), Category: strAttr(a, "category"), ReviewNotes: strAttr(a, "review_notes"),
			State: model.KnowledgeState(strings.ToUpper(st)), AllowedActions: []model.KnowledgeAction{}, Keywords: []string{},
			CurrentVersion: intAttr(a, "published_version", 0), OpenedAt: timeAttr(a, "opened_at"),
			PublishedAt: timeAttr(a, "published_at"), RetiredAt: timeAttr(a, "retired_at"),
			ViewCount: intAttr(a, "view_count", 0), HelpfulCount: intAttr(a, "helpful_count", 0), NotHelpfulCount: intAttr(a, "not_helpful_count", 0),
		}
		for _, act := range wf.Allowed(st) {
			v.AllowedActions = append(v.AllowedActions, model.KnowledgeAction(strings.ToUpper(act)))
		}
		if kw, ok := a["keywords"].([]string); ok {
			v.Keywords = kw
		}
		v.Number, _ = a["number"].(string)
		v.Title, _ = a["short_description"].(string)
		return v
	}
}

// article returns the view of a stored article.
func (r *Resolver) article(n store.Node) *model.KnowledgeArticle {
	return articleView(r.ITSM.KnowledgeWorkflow())(n)
}

func (r *Resolver) articleConnection(page store.Page[store.Node]) *model.KnowledgeArticleConnection {
	return &model.KnowledgeArticleConnection{TotalCount: page.Total, PageInfo: pageInfoOf(page),
		Edges: edgesOf(page, func(c string, n store.Node) model.KnowledgeArticleEdge {
			return model.KnowledgeArticleEdge{Cursor: c, Node: r.article(n)}
		})}
}

func versionView(n store.Node) model.KnowledgeVersion {
	a := n.Attributes
	v := model.KnowledgeVersion{Number: intAttr(a, "version", 0), Body: strAttr(a, "body"), PublishedAt: timeAttr(a, "published_at"), PublishedBy: strAttr(a, "published_by")}
	v.Title, _ = a["short_description"].(string)
	return v
}

// idListIn converts a list of global IDs of type typ (field names it).
func idListIn(field, typ string, gids []string) (*[]store.ID, error) {
	if len(gids) > store.MaxBatch {
		return nil, store.Invalid(field, "at most %d", store.MaxBatch)
	}
	ids := make([]store.ID, len(gids))
	for i, g := range gids {
		var err error
		if ids[i], err = idOf(fmt.Sprintf("%s[%d]", field, i), g, typ); err != nil {
			return nil, err
		}
	}
	return &ids, nil
}

func articleLinksIn(cis, problems, incidents, items []string, set [4]bool) (itsm.ArticleLinks, error) {
	var l itsm.ArticleLinks
	var err error
	if set[0] {
		if l.CIs, err = ciListIn("input.ciIds", cis); err != nil {
			return l, err
		}
	}
	if set[1] {
		if l.Problems, err = idListIn("input.problemIds", typeProblem, problems); err != nil {
			return l, err
		}
	}
	if set[2] {
		if l.Incidents, err = idListIn("input.incidentIds", typeIncident, incidents); err != nil {
			return l, err
		}
	}
	if set[3] {
		if l.CatalogItems, err = idListIn("input.catalogItemIds", typeCatalogItem, items); err != nil {
			return l, err
		}
	}
	return l, nil
}

func createArticleIn(in model.CreateKnowledgeArticleInput) (map[string]any, itsm.ArticleLinks, error) {
	a := map[string]any{"short_description": in.Title}
	for k, v := range map[string]any{"body": derefAnyPtr(in.Body), "category": derefAnyPtr(in.Category)} {
		if v != nil {
			a[k] = v
		}
	}
	if in.Keywords != nil {
		a["keywords"] = in.Keywords
	}
	l, err := articleLinksIn(in.CiIds, in.ProblemIds, in.IncidentIds, in.CatalogItemIds,
		[4]bool{in.CiIds != nil, in.ProblemIds != nil, in.IncidentIds != nil, in.CatalogItemIds != nil})
	return a, l, err
}

func updateArticleIn(in model.UpdateKnowledgeArticleInput) (map[string]any, itsm.ArticleLinks, error) {
	a := map[string]any{}
	setOmittable(a, "short_description", in.Title)
	setOmittable(a, "body", in.Body)
	setOmittable(a, "category", in.Category)
	if in.Keywords.IsSet() {
		a["keywords"] = in.Keywords.Value()
	}
	list := func(o graphql.Omittable[[]string]) []string { v := o.Value(); return v }
	l, err := articleLinksIn(list(in.CiIds), list(in.ProblemIds), list(in.IncidentIds), list(in.CatalogItemIds),
		[4]bool{in.CiIds.IsSet(), in.ProblemIds.IsSet(), in.IncidentIds.IsSet(), in.CatalogItemIds.IsSet()})
	return a, l, err
}

// actOnArticle runs a workflow action (or a view or vote) on the article
// gid names.
func (r *mutationResolver) actOnArticle(ctx context.Context, gid string, expected *int, act func(id store.ID, exp int64) (store.Node, error)) (*model.KnowledgeArticlePayload, error) {
	id, err := idOf("input.id", gid, typeKnowledge)
	if err != nil {
		return nil, err
	}
	exp, err := expectedIn(expected)
	if err != nil {
		return nil, err
	}
	n, err := act(id, exp)
	if err != nil {
		return nil, recordErr(err, gid, "knowledge article", articleInputFields)
	}
	return &model.KnowledgeArticlePayload{KnowledgeArticle: r.article(n)}, nil
}

// knowledgeHits converts a knowledge search's hits.
func (r *Resolver) knowledgeHits(res itsm.KnowledgeHits) *model.KnowledgeSearchResult {
	out := &model.KnowledgeSearchResult{TotalCount: res.Total, Truncated: res.Truncated, Hits: make([]model.KnowledgeHit, len(res.Hits))}
	for i, h := range res.Hits {
		out.Hits[i] = model.KnowledgeHit{Article: r.article(h.CI), Score: h.Score, Highlights: highlightsOut(h.Highlights)}
	}
	return out
}

func highlightsOut(hs []cmdb.Highlight) []model.SearchHighlight {
	out := make([]model.SearchHighlight, len(hs))
	for j, hl := range hs {
		frags := make([]model.SearchFragment, len(hl.Fragments))
		for k, fr := range hl.Fragments {
			frags[k] = model.SearchFragment{Text: fr.Text, Match: fr.Match}
		}
		out[j] = model.SearchHighlight{Attribute: hl.Attribute, Fragments: frags}
	}
	return out
}

// articleAction runs a workflow action on an article.
func (r *mutationResolver) articleAction(ctx context.Context, gid string, expected *int, action string, input map[string]any) (*model.KnowledgeArticlePayload, error) {
	return r.actOnArticle(ctx, gid, expected, func(id store.ID, exp int64) (store.Node, error) {
		return r.ITSM.ActOnArticle(ctx, writeAs(ctx, nil), id, exp, action, input)
	})
}

// articlesLinkedTo answers Problem.articles and Incident.articles.
func (r *Resolver) articlesLinkedTo(ctx context.Context, target store.ID, rel string, first *int, after *string) (*model.KnowledgeArticleConnection, error) {
	p, err := pageIn(first, 50, after)
	if err != nil {
		return nil, err
	}
	page, err := r.ITSM.ArticlesLinkedTo(ctx, target, rel, store.PageRequest{First: countOnly(ctx, p.First), After: p.After})
	if err != nil {
		return nil, err
	}
	return r.articleConnection(page), nil
}
