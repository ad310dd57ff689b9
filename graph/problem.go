package graph

import (
	"context"
	"strings"

	"github.com/99designs/gqlgen/graphql"

	"github.com/skein-cmdb/skein/graph/model"
	"github.com/skein-cmdb/skein/internal/itsm"
	"github.com/skein-cmdb/skein/internal/store"
)

// Problems: the view of a node of kind problem, and the parsing of the
// problem mutations' inputs. Resolvers in problem.resolvers.go call these.

var problemStates = itsm.ProblemWorkflow()

// problemInputFields are the attributes whose input field is not their
// camelCase name.
var problemInputFields = map[string]string{"fix_notes": "fixNotes"}

func problemView(n store.Node) *model.Problem {
	a := n.Attributes
	v := &model.Problem{
		ID: globalID(typeProblem, n.ID), Attributes: attributesOut(a),
		Version: versionOut(n.Version), CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt, Raw: n,
		Description: strAttr(a, "description"), Category: strAttr(a, "category"), RootCause: strAttr(a, "root_cause"),
		Workaround: strAttr(a, "workaround"), FixNotes: strAttr(a, "fix_notes"),
		Impact: intAttr(a, "impact", 3), Urgency: intAttr(a, "urgency", 3), Priority: intAttr(a, "priority", 5),
		ResolvedAt: timeAttr(a, "resolved_at"), ClosedAt: timeAttr(a, "closed_at"),
	}
	v.Number, _ = a["number"].(string)
	v.ShortDescription, _ = a["short_description"].(string)
	v.KnownError, _ = a["known_error"].(bool)
	state := strOr(a, "state", problemStates.Initial)
	v.State = model.ProblemState(strings.ToUpper(state))
	if s, ok := problemStates.State(state); ok {
		v.StateCode = s.Code
	}
	if c := strAttr(a, "resolution_code"); c != nil {
		r := model.ProblemResolution(strings.ToUpper(*c))
		v.ResolutionCode = &r
	}
	if t := timeAttr(a, "opened_at"); t != nil {
		v.OpenedAt = *t
	} else {
		v.OpenedAt = n.CreatedAt
	}
	return v
}

func (r *Resolver) problem(ctx context.Context, id store.ID) (*model.Problem, error) {
	return nodeOf(ctx, r, itsm.KindProblem, id, problemView)
}

func problemConnection(page store.Page[store.Node]) *model.ProblemConnection {
	return &model.ProblemConnection{TotalCount: page.Total, PageInfo: pageInfoOf(page),
		Edges: edgesOf(page, func(c string, n store.Node) model.ProblemEdge {
			return model.ProblemEdge{Cursor: c, Node: problemView(n)}
		})}
}

func createProblemIn(in model.CreateProblemInput) (itsm.RecordInput, error) {
	out := itsm.RecordInput{Attributes: map[string]any{"short_description": in.ShortDescription}}
	for k, v := range map[string]any{"description": derefAnyPtr(in.Description), "impact": derefAnyPtr(in.Impact), "urgency": derefAnyPtr(in.Urgency),
		"category": derefAnyPtr(in.Category), "root_cause": derefAnyPtr(in.RootCause), "workaround": derefAnyPtr(in.Workaround)} {
		if v != nil {
			out.Attributes[k] = v
		}
	}
	if in.KnownError != nil {
		out.Attributes["known_error"] = *in.KnownError
	}
	var err error
	out.Links, err = linksOf("", nil, in.AssignedToID, in.AssignmentGroupID, in.AffectedCIIds)
	return out, err
}

func updateProblemIn(in model.UpdateProblemInput) (itsm.RecordInput, error) {
	out := itsm.RecordInput{Attributes: map[string]any{}}
	a := out.Attributes
	setOmittable(a, "short_description", in.ShortDescription)
	setOmittable(a, "description", in.Description)
	setOmittable(a, "category", in.Category)
	setOmittable(a, "root_cause", in.RootCause)
	setOmittable(a, "workaround", in.Workaround)
	setOmittable(a, "impact", in.Impact)
	setOmittable(a, "urgency", in.Urgency)
	setOmittable(a, "known_error", in.KnownError)
	var err error
	out.Links, err = linksIn("", graphql.Omittable[*string]{}, in.AssignedToID, in.AssignmentGroupID, in.AffectedCIIds)
	return out, err
}

// actOnProblem runs one problem action with its inputs.
func (r *mutationResolver) actOnProblem(ctx context.Context, gid string, expected *int, action string, input map[string]any) (*model.ProblemPayload, error) {
	id, err := idOf("input.id", gid, typeProblem)
	if err != nil {
		return nil, err
	}
	exp, err := expectedIn(expected)
	if err != nil {
		return nil, err
	}
	n, err := r.ITSM.ActOnProblem(ctx, writeAs(ctx, nil), id, exp, action, input)
	if err != nil {
		return nil, recordErr(err, gid, "problem", problemInputFields)
	}
	return &model.ProblemPayload{Problem: problemView(n)}, nil
}

// link runs a mutation that sets one record's single link to another
// (linkIncidentToProblem, setIncidentCause, setProblemFixChange): it
// parses the record's ID and the target's (null removes the link), calls
// set, and returns the record's store ID.
func (r *mutationResolver) link(ctx context.Context, srcField, srcGID, srcType, targetField string, targetGID *string, targetType string,
	set func(context.Context, store.Actor, store.ID, store.ID) error) (store.ID, error) {
	src, err := idOf(srcField, srcGID, srcType)
	if err != nil {
		return "", err
	}
	var target store.ID
	if targetGID != nil {
		if target, err = idOf(targetField, *targetGID, targetType); err != nil {
			return "", err
		}
	}
	if err := set(ctx, writeAs(ctx, nil), src, target); err != nil {
		return "", prefixInput(err)
	}
	return src, nil
}

// problemPayload is the answer of a mutation that set one of problem
// id's links (gid as the client wrote it).
func (r *mutationResolver) problemPayload(ctx context.Context, id store.ID, gid string) (*model.ProblemPayload, error) {
	v, err := r.problem(ctx, id)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, notFoundAt("input.problemId", "problem", gid)
	}
	return &model.ProblemPayload{Problem: v}, nil
}
