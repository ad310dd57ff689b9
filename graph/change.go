package graph

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/skein-cmdb/skein/graph/model"
	"github.com/skein-cmdb/skein/internal/itsm"
	"github.com/skein-cmdb/skein/internal/store"
)

// Changes: the view of a node of kind change, and the parsing of the
// change mutations' inputs into calls of itsm.Service. Resolvers in
// change.resolvers.go call these.

// changeStates gives the views their state codes.
var changeStates = itsm.ChangeWorkflow()

// changeInputFields are the attributes whose input field is not their
// camelCase name.
var changeInputFields = map[string]string{}

func changeView(n store.Node) *model.Change {
	a := n.Attributes
	v := &model.Change{
		ID: globalID(typeChange, n.ID), Attributes: attributesOut(a),
		Version: versionOut(n.Version), CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt, Raw: n,
		Description: strAttr(a, "description"), Category: strAttr(a, "category"),
		PlannedStartAt: timeAttr(a, "planned_start_at"), PlannedEndAt: timeAttr(a, "planned_end_at"),
		ImplementationPlan: strAttr(a, "implementation_plan"), BackoutPlan: strAttr(a, "backout_plan"), TestPlan: strAttr(a, "test_plan"),
		ConflictOverrideReason: strAttr(a, "conflict_override_reason"), CloseNotes: strAttr(a, "close_notes"),
		ClosedAt: timeAttr(a, "closed_at"), ImplementedAt: timeAttr(a, "implemented_at"),
		ImplementationEndedAt: timeAttr(a, "implementation_ended_at"),
	}
	v.Number, _ = a["number"].(string)
	v.ShortDescription, _ = a["short_description"].(string)
	v.Type = model.ChangeType(strings.ToUpper(strOr(a, "type", itsm.ChangeNormal)))
	state := strOr(a, "state", changeStates.Initial)
	v.State = model.ChangeState(strings.ToUpper(state))
	if s, ok := changeStates.State(state); ok {
		v.StateCode = s.Code
	}
	v.Approval = model.ApprovalState(strings.ToUpper(strOr(a, "approval", itsm.ApprovalNotRequested)))
	if r := strAttr(a, "risk"); r != nil {
		risk := model.ChangeRisk(strings.ToUpper(*r))
		v.Risk = &risk
	}
	if c := strAttr(a, "close_code"); c != nil {
		code := model.CloseCode(strings.ToUpper(*c))
		v.CloseCode = &code
	}
	if t := timeAttr(a, "opened_at"); t != nil {
		v.OpenedAt = *t
	} else {
		v.OpenedAt = n.CreatedAt
	}
	return v
}

// strOr returns the string attribute k, or def.
func strOr(a store.Attributes, k, def string) string {
	if s, ok := a[k].(string); ok && s != "" {
		return s
	}
	return def
}

// change reads one change through the service; nil when there is none.
func (r *Resolver) change(ctx context.Context, id store.ID) (*model.Change, error) {
	return nodeOf(ctx, r, itsm.KindChange, id, changeView)
}

func changeConnection(page store.Page[store.Node]) *model.ChangeConnection {
	return &model.ChangeConnection{TotalCount: page.Total, PageInfo: pageInfoOf(page),
		Edges: edgesOf(page, func(c string, n store.Node) model.ChangeEdge {
			return model.ChangeEdge{Cursor: c, Node: changeView(n)}
		})}
}

// enumIn returns the stored value of an optional enum input (nil: none).
func enumIn[E ~string](v *E) any {
	if v == nil {
		return nil
	}
	return strings.ToLower(string(*v))
}

func createChangeIn(in model.CreateChangeInput) (itsm.RecordInput, error) {
	out := itsm.RecordInput{Attributes: map[string]any{}}
	if in.TemplateID != nil {
		var err error
		if out.Template, err = idOf("input.templateId", *in.TemplateID, typeTemplate); err != nil {
			return out, err
		}
	}
	for k, v := range map[string]any{"short_description": derefAnyPtr(in.ShortDescription), "description": derefAnyPtr(in.Description), "type": enumIn(in.Type), "category": derefAnyPtr(in.Category),
		"risk": enumIn(in.Risk), "risk_override_reason": derefAnyPtr(in.RiskOverrideReason), "implementation_plan": derefAnyPtr(in.ImplementationPlan), "backout_plan": derefAnyPtr(in.BackoutPlan),
		"test_plan": derefAnyPtr(in.TestPlan)} {
		if v != nil {
			out.Attributes[k] = v
		}
	}
	if in.PlannedStartAt != nil {
		out.Attributes["planned_start_at"] = *in.PlannedStartAt
	}
	if in.PlannedEndAt != nil {
		out.Attributes["planned_end_at"] = *in.PlannedEndAt
	}
	var err error
	out.Links, err = linksOf("input.requestedById", in.RequestedByID, in.AssignedToID, in.AssignmentGroupID, in.AffectedCIIds)
	return out, err
}

func updateChangeIn(in model.UpdateChangeInput) (itsm.RecordInput, error) {
	out := itsm.RecordInput{Attributes: map[string]any{}}
	a := out.Attributes
	setOmittable(a, "short_description", in.ShortDescription)
	setOmittable(a, "description", in.Description)
	setOmittable(a, "category", in.Category)
	setOmittable(a, "implementation_plan", in.ImplementationPlan)
	setOmittable(a, "backout_plan", in.BackoutPlan)
	setOmittable(a, "test_plan", in.TestPlan)
	setOmittable(a, "planned_start_at", in.PlannedStartAt)
	setOmittable(a, "planned_end_at", in.PlannedEndAt)
	setOmittable(a, "risk_override_reason", in.RiskOverrideReason)
	if in.Type.IsSet() {
		a["type"] = enumIn(in.Type.Value())
	}
	if in.Risk.IsSet() {
		a["risk"] = enumIn(in.Risk.Value())
	}
	var err error
	out.Links, err = linksIn("input.requestedById", in.RequestedByID, in.AssignedToID, in.AssignmentGroupID, in.AffectedCIIds)
	return out, err
}

// actOnChange runs one change action with its inputs.
func (r *mutationResolver) actOnChange(ctx context.Context, gid string, expected *int, action string, input map[string]any) (*model.ChangePayload, error) {
	id, err := idOf("input.id", gid, typeChange)
	if err != nil {
		return nil, err
	}
	exp, err := expectedIn(expected)
	if err != nil {
		return nil, err
	}
	n, err := r.ITSM.ActOnChange(ctx, writeAs(ctx, nil), id, exp, action, input)
	if err != nil {
		return nil, recordErr(err, gid, "change", changeInputFields)
	}
	return &model.ChangePayload{Change: changeView(n)}, nil
}

// decideChange runs approveChange and rejectChange.
func (r *mutationResolver) decideChange(ctx context.Context, in model.ChangeDecisionInput, approve bool) (*model.ChangePayload, error) {
	id, err := idOf("input.id", in.ID, typeChange)
	if err != nil {
		return nil, err
	}
	exp, err := expectedIn(in.ExpectedVersion)
	if err != nil {
		return nil, err
	}
	n, err := r.ITSM.DecideChange(ctx, writeAs(ctx, nil), id, exp, approve, deref(in.Comment, ""))
	if err != nil {
		return nil, recordErr(err, in.ID, "change", changeInputFields)
	}
	return &model.ChangePayload{Change: changeView(n)}, nil
}

// approvalsOut are a change's approvals as the API shows them.
func approvalsOut(n store.Node) []model.Approval {
	as := itsm.Approvals(n)
	out := make([]model.Approval, len(as))
	for i, a := range as {
		out[i] = model.Approval{ApproverID: a.Approver, UserName: a.UserName, Reason: model.ApproverReason(strings.ToUpper(a.Why)),
			State: model.ApprovalState(strings.ToUpper(a.State)), DecidedAt: a.DecidedAt}
		if a.Comment != "" {
			c := a.Comment
			out[i].Comment = &c
		}
	}
	return out
}

// conflictsOut are a change's conflicts as the API shows them.
func conflictsOut(cs []itsm.Conflict) []model.ChangeConflict {
	out := make([]model.ChangeConflict, len(cs))
	for i, c := range cs {
		out[i] = model.ChangeConflict{Kind: model.ConflictKind(strings.ToUpper(c.Kind)), Number: c.Number, RecordID: c.Record, CIIDs: c.CIs}
		if !c.Start.IsZero() {
			s, e := c.Start, c.End
			out[i].PlannedStartAt, out[i].PlannedEndAt = &s, &e
		}
	}
	return out
}

// impactCIs are the start and impacted CIs of an analysis.
func impactCIs(a *model.ImpactAnalysis) []store.ID {
	out := make([]store.ID, 0, len(a.Result.Starts)+len(a.Result.Impacted))
	for _, s := range a.Result.Starts {
		out = append(out, s.CI.ID)
	}
	for _, i := range a.Result.Impacted {
		out = append(out, i.CI.ID)
	}
	return out
}

// listSize checks a list's first argument: 1 to store.MaxPageSize.
func listSize(first *int) (int, error) {
	p, err := pageIn(first, 100, nil)
	return p.First, err
}

// outcomesLookback is how far back change outcomes are counted when the
// client names no start.
const outcomesLookback = 90 * 24 * time.Hour

// sinceIn is the start of a change outcomes question.
func sinceIn(since *time.Time) time.Time {
	if since != nil {
		return *since
	}
	return time.Now().Add(-outcomesLookback)
}

// ciCloseCodes lists how closed change c went on each of its CIs; nothing
// while it is not closed.
func (r *Resolver) ciCloseCodes(ctx context.Context, c store.Node) ([]model.CICloseCode, error) {
	codes, err := r.ITSM.CloseCodesByCI(ctx, c)
	out := make([]model.CICloseCode, len(codes))
	for i, cc := range codes {
		out[i] = model.CICloseCode{CIID: cc.CI, CloseCode: model.CloseCode(strings.ToUpper(cc.Code))}
	}
	return out, err
}

// ciCloseCodesIn reads closeChange's ciCloseCodes: at most store.MaxBatch,
// each CI once.
func ciCloseCodesIn(in []model.CICloseCodeInput) (string, error) {
	if len(in) > store.MaxBatch {
		return "", store.Invalid("input.ciCloseCodes", "at most %d", store.MaxBatch)
	}
	codes := map[store.ID]string{}
	for i, c := range in {
		id, err := ciID(fmt.Sprintf("input.ciCloseCodes[%d].ciId", i), c.CiID)
		if err != nil {
			return "", err
		}
		if _, dup := codes[id]; dup {
			return "", store.Invalid(fmt.Sprintf("input.ciCloseCodes[%d].ciId", i), "names a CI already listed")
		}
		codes[id] = strings.ToLower(string(c.CloseCode))
	}
	return itsm.EncodeCICloseCodes(codes), nil
}
