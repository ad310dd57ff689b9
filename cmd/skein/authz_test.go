package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/graph"
	"github.com/skein-cmdb/skein/graph/generated"
	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/config"
	"github.com/skein-cmdb/skein/internal/store"
)

// matrixRoles are the columns of the role matrix in docs/SECURITY.md.
var matrixRoles = []auth.Role{auth.Anonymous, auth.Viewer, auth.Agent, auth.Monitor, auth.Engineer, auth.ChangeManager, auth.Admin}

// readRoleMatrix parses the role matrix of docs/SECURITY.md: field →
// role → allowed.
func readRoleMatrix(t *testing.T) map[string]map[auth.Role]bool {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "SECURITY.md"))
	require.NoError(t, err)
	m := regexp.MustCompile(`(?s)<!-- role-matrix:begin -->\n(.*?)<!-- role-matrix:end -->`).FindSubmatch(doc)
	require.NotNil(t, m, "docs/SECURITY.md has a role matrix between role-matrix markers")
	out := map[string]map[auth.Role]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(m[1])), "\n")[2:] {
		cells := strings.Split(strings.Trim(line, "| "), "|")
		require.Len(t, cells, 1+len(matrixRoles), "row %q", line)
		field := strings.Trim(strings.TrimSpace(cells[0]), "`")
		row := map[auth.Role]bool{}
		for i, r := range matrixRoles {
			switch c := strings.TrimSpace(cells[i+1]); c {
			case "✓":
				row[r] = true
			case "✗":
				row[r] = false
			default:
				t.Fatalf("row %s, role %s: cell %q is neither ✓ nor ✗", field, r, c)
			}
		}
		out[field] = row
	}
	return out
}

// schemaRootFields lists "Query.x" and "Mutation.y" for every root field.
func schemaRootFields(t *testing.T) []string {
	t.Helper()
	s := generated.NewExecutableSchema(generated.Config{Resolvers: &graph.Resolver{}}).Schema()
	var out []string
	for _, typ := range []string{"Query", "Mutation"} {
		for _, f := range s.Types[typ].Fields {
			if !strings.HasPrefix(f.Name, "__") {
				out = append(out, typ+"."+f.Name)
			}
		}
	}
	return out
}

// matrixOp is one operation calling a root field. prepare (run as admin)
// makes what it needs and returns its variables; after (optional) checks,
// as admin, the effect of the call or its absence.
type matrixOp struct {
	query   string
	prepare func(t *testing.T, m *matrixEnv) map[string]any
	after   func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool)
}

type matrixEnv struct {
	url     string
	a       *app
	n       atomic.Int64
	cabOnce sync.Once
	// cabID is the CAB group's ID, once made.
	cabID string
}

func (m *matrixEnv) name(prefix string) string { return fmt.Sprintf("%s%d", prefix, m.n.Add(1)) }

func (m *matrixEnv) ci(t *testing.T) string {
	return upsertIDs(t, m.url, item("Application", map[string]any{"name": m.name("matrix-app-")}))[0]
}

func (m *matrixEnv) rel(t *testing.T) string {
	d := ok(t, m.url, `mutation($in: CreateRelationshipsInput!) { createRelationships(input: $in) { results { relationship { id } } } }`,
		map[string]any{"in": map[string]any{"items": []any{map[string]any{"type": "DEPENDS_ON", "source": m.ci(t), "target": m.ci(t)}}}})
	return get(d, "createRelationships", "results", 0, "relationship", "id").(string)
}

// ciExists reports, as admin, whether the CI is there.
func (m *matrixEnv) ciExists(t *testing.T, id string) bool {
	return get(ok(t, m.url, `query($id: ID!) { ci(id: $id) { id } }`, map[string]any{"id": id}), "ci") != nil
}

func idVar(t *testing.T, m *matrixEnv) map[string]any { return map[string]any{"id": m.ci(t)} }

// incident opens an incident as admin and runs the actions given (e.g.
// "holdIncident"), returning its global ID.
func (m *matrixEnv) incident(t *testing.T, actions ...string) string {
	d := ok(t, m.url, `mutation($in: CreateIncidentInput!) { createIncident(input: $in) { incident { id } } }`,
		map[string]any{"in": map[string]any{"shortDescription": m.name("matrix-incident-")}})
	id := get(d, "createIncident", "incident", "id").(string)
	for _, a := range actions {
		in := map[string]any{"id": id}
		switch a {
		case "holdIncident":
			in["reason"] = "AWAITING_CALLER"
		case "resolveIncident":
			in["resolutionCode"], in["resolutionNotes"] = "SOLVED_REMOTELY", "matrix"
		}
		actOK(t, m.url, a, in)
	}
	return id
}

// cab makes, once, the CAB group, whose members are people named after
// every matrix token ("matrix engineer"...), and returns its ID.
func (m *matrixEnv) cab(t *testing.T) string {
	m.cabOnce.Do(func() {
		var people []any
		for _, r := range auth.TokenRoles {
			n := "matrix " + string(r)
			people = append(people, map[string]any{"attributes": map[string]any{"user_name": n, "name": n}})
		}
		d := ok(t, m.url, `mutation($in: UpsertPeopleInput!) { upsertPeople(input: $in) { results { person { id } } } }`,
			map[string]any{"in": map[string]any{"items": people}})
		var ids []any
		for i := range people {
			ids = append(ids, get(d, "upsertPeople", "results", i, "person", "id"))
		}
		d = ok(t, m.url, `mutation($in: UpsertGroupsInput!) { upsertGroups(input: $in) { results { group { id } } } }`,
			map[string]any{"in": map[string]any{"items": []any{map[string]any{"attributes": map[string]any{"name": "CAB", "type": "cab"}}}}})
		ok(t, m.url, `mutation($in: GroupMembersInput!) { addGroupMembers(input: $in) { changed } }`,
			map[string]any{"in": map[string]any{"groupId": get(d, "upsertGroups", "results", 0, "group", "id"), "personIds": ids}})
		m.cabID = get(d, "upsertGroups", "results", 0, "group", "id").(string)
	})
	return m.cabID
}

// change opens a change as admin (type, with a window tomorrow) and runs
// the actions given (e.g. "assessChange"), returning its global ID.
// Approval goes to the CAB group, whose members are people named after
// every matrix token ("matrix engineer"...), made once.
func (m *matrixEnv) change(t *testing.T, typ string, actions ...string) string {
	m.cab(t)
	start := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second)
	in := map[string]any{"shortDescription": m.name("matrix-change-"), "type": typ,
		"plannedStartAt": start.Format(time.RFC3339), "plannedEndAt": start.Add(time.Hour).Format(time.RFC3339)}
	if typ == "STANDARD" {
		in["templateId"] = stdTemplate(t, m.url)
	}
	d := ok(t, m.url, `mutation($in: CreateChangeInput!) { createChange(input: $in) { change { id } } }`, map[string]any{"in": in})
	id := get(d, "createChange", "change", "id").(string)
	for _, a := range actions {
		in := map[string]any{"id": id}
		input := "ChangeActionInput"
		switch a {
		case "approveChange":
			input = "ChangeDecisionInput"
		case "scheduleChange":
			input = "ScheduleChangeInput"
		}
		ok(t, m.url, fmt.Sprintf(`mutation($in: %s!) { %s(input: $in) { change { id } } }`, input, a), map[string]any{"in": in})
	}
	return id
}

// changeState reports, as admin, a change's state and its approvals.
func (m *matrixEnv) changeState(t *testing.T, id string) (string, []any) {
	d := ok(t, m.url, `query($id: ID!) { change(id: $id) { state approvals { userName state } } }`, map[string]any{"id": id})
	return get(d, "change", "state").(string), get(d, "change", "approvals").([]any)
}

// changeAction is the role-matrix operation of a change action, prepared
// as incidentAction prepares an incident's.
func changeAction(mutation, input, want string, extra map[string]any, typ string, setup ...string) matrixOp {
	return matrixOp{query: fmt.Sprintf(`mutation($in: %s!) { %s(input: $in) { change { state } } }`, input, mutation),
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			in := map[string]any{"id": m.change(t, typ, setup...)}
			for k, v := range extra {
				in[k] = v
			}
			return map[string]any{"in": in}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			got, _ := m.changeState(t, vars["in"].(map[string]any)["id"].(string))
			assert.Equal(t, allowed, got == want, "%s: state %s", mutation, got)
		}}
}

// changeDecision is the role-matrix operation of approveChange and
// rejectChange: on a change awaiting the decision of every matrix
// token's person, the role's person has decided only when allowed.
func changeDecision(mutation, want string) matrixOp {
	return matrixOp{query: fmt.Sprintf(`mutation($in: ChangeDecisionInput!) { %s(input: $in) { change { approval } } }`, mutation),
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"in": map[string]any{"id": m.change(t, "NORMAL", "assessChange", "requestChangeApproval"), "comment": "matrix"}}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			_, approvals := m.changeState(t, vars["in"].(map[string]any)["id"].(string))
			decided := 0
			for _, a := range approvals {
				if get(a, "state") == want {
					decided++
				}
			}
			assert.Equal(t, map[bool]int{true: 1, false: 0}[allowed], decided, "%s", mutation)
		}}
}

// problem opens a problem as admin and runs the actions given.
// article writes a knowledge article with a body, as admin, and runs the
// actions (submitKnowledgeArticle...) on it.
func (m *matrixEnv) article(t *testing.T, actions ...string) string {
	d := ok(t, m.url, `mutation($in: CreateKnowledgeArticleInput!) { createKnowledgeArticle(input: $in) { knowledgeArticle { id } } }`,
		map[string]any{"in": map[string]any{"title": m.name("matrix-article-"), "body": "matrix"}})
	id := get(d, "createKnowledgeArticle", "knowledgeArticle", "id").(string)
	for _, a := range actions {
		ok(t, m.url, `mutation($id: ID!) { `+a+`(input: {id: $id}) { knowledgeArticle { id } } }`, map[string]any{"id": id})
	}
	return id
}

// articleOp is the matrix operation of an article action from the state
// the prep actions lead to: allowed, it leaves the article in state want.
func articleOp(mutation, want string, prep ...string) matrixOp {
	return matrixOp{query: `mutation($id: ID!) { ` + mutation + `(input: {id: $id}) { knowledgeArticle { state } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any { return map[string]any{"id": m.article(t, prep...)} },
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, `query($id: ID!) { knowledgeArticle(id: $id) { state } }`, vars)
			assert.Equal(t, allowed, get(d, "knowledgeArticle", "state") == want, mutation)
		}}
}

func (m *matrixEnv) problem(t *testing.T, actions ...string) string {
	d := ok(t, m.url, `mutation($in: CreateProblemInput!) { createProblem(input: $in) { problem { id } } }`,
		map[string]any{"in": map[string]any{"shortDescription": m.name("matrix-problem-"), "rootCause": "matrix"}})
	id := get(d, "createProblem", "problem", "id").(string)
	for _, a := range actions {
		in := map[string]any{"id": id}
		input := "ProblemActionInput"
		if a == "resolveProblem" {
			input, in["resolutionCode"] = "ResolveProblemInput", "FIX_APPLIED"
		}
		ok(t, m.url, fmt.Sprintf(`mutation($in: %s!) { %s(input: $in) { problem { id } } }`, input, a), map[string]any{"in": in})
	}
	return id
}

// problemAction is the role-matrix operation of a problem action.
func problemAction(mutation, input, want string, extra map[string]any, setup ...string) matrixOp {
	return matrixOp{query: fmt.Sprintf(`mutation($in: %s!) { %s(input: $in) { problem { state } } }`, input, mutation),
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			in := map[string]any{"id": m.problem(t, setup...)}
			for k, v := range extra {
				in[k] = v
			}
			return map[string]any{"in": in}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, `query($id: ID!) { problem(id: $id) { state } }`, map[string]any{"id": vars["in"].(map[string]any)["id"]})
			assert.Equal(t, allowed, get(d, "problem", "state") == want, "%s", mutation)
		}}
}

// incidentState reports, as admin, an incident's state.
func (m *matrixEnv) incidentState(t *testing.T, id string) string {
	return get(ok(t, m.url, `query($id: ID!) { incident(id: $id) { state } }`, map[string]any{"id": id}), "incident", "state").(string)
}

// incidentAction is the role-matrix operation of an incident action:
// prepared in a state that allows it (after the actions given), and
// checked to have moved the incident to want only when allowed.
func incidentAction(mutation, input, want string, extra map[string]any, setup ...string) matrixOp {
	return matrixOp{query: fmt.Sprintf(`mutation($in: %s!) { %s(input: $in) { incident { state } } }`, input, mutation),
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			in := map[string]any{"id": m.incident(t, setup...)}
			for k, v := range extra {
				in[k] = v
			}
			return map[string]any{"in": in}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			got := m.incidentState(t, vars["in"].(map[string]any)["id"].(string))
			assert.Equal(t, allowed, got == want, "%s: state %s", mutation, got)
		}}
}

// node makes a person or group (kind) through the service, as the process,
// and returns its global ID.
func (m *matrixEnv) node(t *testing.T, kind string, attrs map[string]any) string {
	res, err := m.a.CMDB.UpsertNodes(t.Context(), store.Actor{Name: "matrix", Source: "api"}, kind, []cmdb.UpsertItem{{Attributes: attrs}}, true)
	require.NoError(t, err)
	if kind == cmdb.KindPerson {
		return graph.PersonGlobalID(res[0].Node.ID)
	}
	return graph.GroupGlobalID(res[0].Node.ID)
}

func (m *matrixEnv) person(t *testing.T) string {
	n := m.name("matrix-person-")
	return m.node(t, cmdb.KindPerson, map[string]any{"user_name": n, "name": n})
}

func (m *matrixEnv) group(t *testing.T) string {
	return m.node(t, cmdb.KindGroup, map[string]any{"name": m.name("matrix-group-")})
}

// membersOp is the matrix operation of addGroupMembers or removeGroupMembers.
func membersOp(field string) matrixOp {
	return matrixOp{query: `mutation($in: GroupMembersInput!) { ` + field + `(input: $in) { changed } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"in": map[string]any{"groupId": m.group(t), "personIds": []any{m.person(t)}}}
		}}
}

// task opens, as admin, a change task (typ ChangeTask, on a standard
// change being implemented) or a problem task (ProblemTask) and runs the
// task actions given; it returns the task's ID.
func (m *matrixEnv) task(t *testing.T, typ string, actions ...string) string {
	field, in := "createProblemTask", map[string]any{"problemId": m.problem(t), "shortDescription": m.name("matrix-task-")}
	if typ == "ChangeTask" {
		field, in = "createChangeTask", map[string]any{"changeId": m.change(t, "STANDARD", "scheduleChange", "implementChange"), "shortDescription": m.name("matrix-task-")}
	}
	payload := strings.ToLower(typ[:1]) + typ[1:]
	d := ok(t, m.url, fmt.Sprintf(`mutation($in: Create%sInput!) { %s(input: $in) { %s { id } } }`, typ, field, payload), map[string]any{"in": in})
	id := get(d, field, payload, "id").(string)
	for _, a := range actions {
		ok(t, m.url, fmt.Sprintf(`mutation($in: TaskActionInput!) { %s(input: $in) { %s { id } } }`, a, payload), map[string]any{"in": map[string]any{"id": id}})
	}
	return id
}

// taskAction is the role-matrix operation of a task action (typ
// ChangeTask or ProblemTask), prepared after the setup actions and checked
// to have moved the task to want only when allowed.
func taskAction(typ, mutation, input, want string, extra map[string]any, setup ...string) matrixOp {
	payload := strings.ToLower(typ[:1]) + typ[1:]
	return matrixOp{query: fmt.Sprintf(`mutation($in: %s!) { %s(input: $in) { %s { state } } }`, input, mutation, payload),
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			in := map[string]any{"id": m.task(t, typ, setup...)}
			for k, v := range extra {
				in[k] = v
			}
			return map[string]any{"in": in}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, fmt.Sprintf(`query($id: ID!) { %s(id: $id) { state journal { totalCount } } }`, payload), map[string]any{"id": vars["in"].(map[string]any)["id"]})
			if want == "NOTE" {
				assert.Equal(t, map[bool]float64{true: 1, false: 0}[allowed], get(d, payload, "journal", "totalCount"), "%s", mutation)
				return
			}
			assert.Equal(t, allowed, get(d, payload, "state") == want, "%s: %v", mutation, get(d, payload, "state"))
		}}
}

// taskCreate is the role-matrix operation of createChangeTask or
// createProblemTask: the task exists only when allowed.
func taskCreate(typ string) matrixOp {
	payload := strings.ToLower(typ[:1]) + typ[1:]
	return matrixOp{query: fmt.Sprintf(`mutation($in: Create%sInput!) { create%s(input: $in) { %s { id } } }`, typ, typ, payload),
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			in := map[string]any{"shortDescription": m.name("matrix-new-task-")}
			if typ == "ChangeTask" {
				in["changeId"] = m.change(t, "NORMAL")
			} else {
				in["problemId"] = m.problem(t)
			}
			return map[string]any{"in": in}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, fmt.Sprintf(`query($w: CIWhere) { %ss(where: $w) { totalCount } }`, payload),
				map[string]any{"w": map[string]any{"attribute": "short_description", "eq": vars["in"].(map[string]any)["shortDescription"]}})
			assert.Equal(t, map[bool]float64{true: 1, false: 0}[allowed], get(d, payload+"s", "totalCount"))
		}}
}

// taskUpdate is the role-matrix operation of updateChangeTask or
// updateProblemTask.
func taskUpdate(typ string) matrixOp {
	payload := strings.ToLower(typ[:1]) + typ[1:]
	return matrixOp{query: fmt.Sprintf(`mutation($in: UpdateTaskInput!) { update%s(input: $in) { %s { description } } }`, typ, payload),
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"in": map[string]any{"id": m.task(t, typ), "description": "matrix"}}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, fmt.Sprintf(`query($id: ID!) { %s(id: $id) { description } }`, payload), map[string]any{"id": vars["in"].(map[string]any)["id"]})
			assert.Equal(t, allowed, get(d, payload, "description") == "matrix")
		}}
}

// window records, as admin, a blackout far in the future on no CI (every
// CI) and returns its ID; it is retired at once so that it never stands
// in the way of the matrix's changes.
func (m *matrixEnv) window(t *testing.T) string {
	d := ok(t, m.url, `mutation($in: CreateChangeWindowInput!) { createChangeWindow(input: $in) { changeWindow { id } } }`,
		map[string]any{"in": map[string]any{"name": m.name("matrix-window-"), "type": "BLACKOUT", "startAt": "2031-12-20T00:00:00Z", "endAt": "2032-01-03T00:00:00Z"}})
	id := get(d, "createChangeWindow", "changeWindow", "id").(string)
	ok(t, m.url, `mutation($in: UpdateChangeWindowInput!) { updateChangeWindow(input: $in) { changeWindow { id } } }`,
		map[string]any{"in": map[string]any{"id": id, "active": false}})
	return id
}

// assetModel makes, as admin, an asset model with a reorder threshold and
// returns its ID.
func (m *matrixEnv) assetModel(t *testing.T) string {
	d := ok(t, m.url, `mutation($n: String!) { createAssetModel(input: {name: $n, reorderThreshold: 1}) { assetModel { id } } }`,
		map[string]any{"n": m.name("matrix-model-")})
	return get(d, "createAssetModel", "assetModel", "id").(string)
}

// asset records, as admin, an asset (in stock when received) and runs
// the lifecycle actions given (assignAsset to a new person).
func (m *matrixEnv) asset(t *testing.T, received bool, actions ...string) string {
	d := ok(t, m.url, `mutation($in: CreateAssetInput!) { createAsset(input: $in) { asset { id } } }`,
		map[string]any{"in": map[string]any{"modelId": m.assetModel(t), "assetTag": m.name("MTX-"), "received": received}})
	id := get(d, "createAsset", "asset", "id").(string)
	for _, a := range actions {
		in, input := map[string]any{"id": id}, "AssetActionInput"
		switch a {
		case "assignAsset":
			in["assignedToId"], input = m.person(t), "AssignAssetInput"
		case "retireAsset", "repairAsset":
			input = "AssetNotesInput"
		}
		ok(t, m.url, fmt.Sprintf(`mutation($in: %s!) { %s(input: $in) { asset { id } } }`, input, a), map[string]any{"in": in})
	}
	return id
}

// assetAction is the role-matrix operation of an asset action, prepared
// after the setup actions and checked to have moved the asset to want
// only when allowed.
func assetAction(mutation, input, want string, extra map[string]any, received bool, setup ...string) matrixOp {
	return matrixOp{query: fmt.Sprintf(`mutation($in: %s!) { %s(input: $in) { asset { state } } }`, input, mutation),
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			in := map[string]any{"id": m.asset(t, received, setup...)}
			for k, v := range extra {
				in[k] = v
			}
			if mutation == "assignAsset" {
				in["assignedToId"] = m.person(t)
			}
			return map[string]any{"in": in}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, `query($id: ID!) { asset(id: $id) { state } }`, map[string]any{"id": vars["in"].(map[string]any)["id"]})
			assert.Equal(t, allowed, get(d, "asset", "state") == want, "%s: %v", mutation, get(d, "asset", "state"))
		}}
}

// matrixOps has an operation for every root field; TestRoleMatrix fails for
// a field without one.
var matrixOps = map[string]matrixOp{
	"Query.version":           {query: `{ version }`},
	"Query.viewer":            {query: `{ viewer { role } }`},
	"Query.ciClasses":         {query: `{ ciClasses { name } }`},
	"Query.ciClass":           {query: `{ ciClass(name: "Server") { name } }`},
	"Query.relationshipTypes": {query: `{ relationshipTypes { name } }`},
	"Query.node":              {query: `query($id: ID!) { node(id: $id) { id } }`, prepare: idVar},
	"Query.ci":                {query: `query($id: ID!) { ci(id: $id) { name history { totalCount } } }`, prepare: idVar},
	"Query.cis":               {query: `{ cis(first: 1) { totalCount } }`},
	"Query.search":            {query: `{ search(text: "matrix", first: 1) { totalCount } }`},
	"Query.impactAnalysis": {query: `query($ids: [ID!]!) { impactAnalysis(ciIds: $ids) { downCount } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any { return map[string]any{"ids": []any{m.ci(t)}} }},
	"Query.shortestPath": {query: `query($a: ID!) { shortestPath(from: $a, to: $a) { length } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any { return map[string]any{"a": m.ci(t)} }},
	"Query.apiTokens":    {query: `{ apiTokens { tokenId } }`},
	"Query.auditRecords": {query: `{ auditRecords(first: 1) { totalCount } }`},
	"Mutation.ping":      {query: `mutation { ping }`},
	"Mutation.upsertCIs": {query: `mutation($in: UpsertCIsInput!) { upsertCIs(input: $in) { created failed } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"in": map[string]any{"source": "matrix", "items": []any{item("Application", map[string]any{"name": m.name("matrix-upsert-")})}}}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			name := vars["in"].(map[string]any)["items"].([]any)[0].(map[string]any)["attributes"].(map[string]any)["name"]
			d := ok(t, m.url, `query($n: String!) { cis(filter: {namePrefix: $n}) { totalCount } }`, map[string]any{"n": name})
			assert.Equal(t, map[bool]float64{true: 1, false: 0}[allowed], get(d, "cis", "totalCount"), "CI %s", name)
		}},
	"Mutation.createRelationships": {query: `mutation($in: CreateRelationshipsInput!) { createRelationships(input: $in) { results { status } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"in": map[string]any{"items": []any{map[string]any{"type": "DEPENDS_ON", "source": m.ci(t), "target": m.ci(t)}}}}
		}},
	"Mutation.updateCI": {query: `mutation($in: UpdateCIInput!) { updateCI(input: $in) { changedFields } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"in": map[string]any{"id": m.ci(t), "attributes": map[string]any{"description": "changed by the matrix"}}}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, `query($id: ID!) { ci(id: $id) { attributes } }`, map[string]any{"id": vars["in"].(map[string]any)["id"]})
			got, _ := get(d, "ci", "attributes", "description").(string)
			assert.Equal(t, allowed, got == "changed by the matrix")
		}},
	"Mutation.deleteCI": {query: `mutation($in: DeleteCIInput!) { deleteCI(input: $in) { ci { status } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"in": map[string]any{"id": m.ci(t)}}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, `query($id: ID!) { ci(id: $id) { status } }`, map[string]any{"id": vars["in"].(map[string]any)["id"]})
			assert.Equal(t, allowed, get(d, "ci", "status") == "retired", "a refused retirement changes nothing")
		}},
	"Mutation.purgeCI": {query: `mutation($in: PurgeCIInput!) { purgeCI(input: $in) { purgedId } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"in": map[string]any{"id": m.ci(t)}}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			assert.Equal(t, !allowed, m.ciExists(t, vars["in"].(map[string]any)["id"].(string)), "a refused purge loses nothing")
		}},
	"Mutation.deleteRelationships": {query: `mutation($in: DeleteRelationshipsInput!) { deleteRelationships(input: $in) { results { status } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"in": map[string]any{"ids": []any{m.rel(t)}}}
		}},
	"Query.identityConflicts": {query: `{ identityConflicts(first: 1) { totalCount } }`},
	"Query.cmdbHealth":        {query: `{ cmdbHealth(first: 1) { ciCount classes { class orphans { totalCount cis { id } } } } }`},
	"Query.person": {query: `query($id: ID!) { person(id: $id) { name email groups { totalCount } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any { return map[string]any{"id": m.person(t)} }},
	"Query.group": {query: `query($id: ID!) { group(id: $id) { name members { totalCount } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any { return map[string]any{"id": m.group(t)} }},
	"Query.people": {query: `{ people(first: 1) { totalCount } }`},
	"Query.incident": {query: `query($id: ID!) { incident(id: $id) { number state } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any { return map[string]any{"id": m.incident(t)} }},
	"Query.incidents": {query: `{ incidents(first: 1) { totalCount } }`},
	"Mutation.createIncident": {query: `mutation($in: CreateIncidentInput!) { createIncident(input: $in) { incident { id } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"in": map[string]any{"shortDescription": m.name("matrix-new-incident-")}}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, `query($w: CIWhere) { incidents(where: $w) { totalCount } }`,
				map[string]any{"w": map[string]any{"attribute": "short_description", "eq": vars["in"].(map[string]any)["shortDescription"]}})
			assert.Equal(t, map[bool]float64{true: 1, false: 0}[allowed], get(d, "incidents", "totalCount"))
		}},
	"Mutation.updateIncident": {query: `mutation($in: UpdateIncidentInput!) { updateIncident(input: $in) { incident { urgency } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"in": map[string]any{"id": m.incident(t), "urgency": 1}}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, `query($id: ID!) { incident(id: $id) { urgency } }`, map[string]any{"id": vars["in"].(map[string]any)["id"]})
			assert.Equal(t, allowed, get(d, "incident", "urgency") == 1.0)
		}},
	"Mutation.startIncident":   incidentAction("startIncident", "IncidentActionInput", "IN_PROGRESS", nil),
	"Mutation.holdIncident":    incidentAction("holdIncident", "HoldIncidentInput", "ON_HOLD", map[string]any{"reason": "AWAITING_VENDOR"}),
	"Mutation.resumeIncident":  incidentAction("resumeIncident", "IncidentActionInput", "IN_PROGRESS", nil, "holdIncident"),
	"Mutation.resolveIncident": incidentAction("resolveIncident", "ResolveIncidentInput", "RESOLVED", map[string]any{"resolutionCode": "DUPLICATE", "resolutionNotes": "matrix"}),
	"Mutation.closeIncident":   incidentAction("closeIncident", "IncidentActionInput", "CLOSED", nil, "resolveIncident"),
	"Mutation.reopenIncident":  incidentAction("reopenIncident", "ReopenIncidentInput", "IN_PROGRESS", map[string]any{"reason": "matrix"}, "resolveIncident"),
	"Mutation.cancelIncident":  incidentAction("cancelIncident", "CancelIncidentInput", "CANCELED", nil),
	"Query.change": {query: `query($id: ID!) { change(id: $id) { number state approvals { userName } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any { return map[string]any{"id": m.change(t, "NORMAL")} }},
	"Query.changes": {query: `{ changes(first: 1) { totalCount } }`},
	"Mutation.createChange": {query: `mutation($in: CreateChangeInput!) { createChange(input: $in) { change { id } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"in": map[string]any{"shortDescription": m.name("matrix-new-change-")}}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, `query($w: CIWhere) { changes(where: $w) { totalCount } }`,
				map[string]any{"w": map[string]any{"attribute": "short_description", "eq": vars["in"].(map[string]any)["shortDescription"]}})
			assert.Equal(t, map[bool]float64{true: 1, false: 0}[allowed], get(d, "changes", "totalCount"))
		}},
	"Mutation.updateChange": {query: `mutation($in: UpdateChangeInput!) { updateChange(input: $in) { change { category } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"in": map[string]any{"id": m.change(t, "NORMAL"), "category": "matrix"}}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, `query($id: ID!) { change(id: $id) { category } }`, map[string]any{"id": vars["in"].(map[string]any)["id"]})
			assert.Equal(t, allowed, get(d, "change", "category") == "matrix")
		}},
	"Mutation.assessChange":          changeAction("assessChange", "ChangeActionInput", "ASSESS", nil, "NORMAL"),
	"Mutation.requestChangeApproval": changeAction("requestChangeApproval", "ChangeActionInput", "AUTHORIZE", nil, "NORMAL", "assessChange"),
	"Mutation.reviseChange":          changeAction("reviseChange", "ChangeActionInput", "ASSESS", nil, "NORMAL", "assessChange", "requestChangeApproval"),
	"Mutation.approveChange":         changeDecision("approveChange", "APPROVED"),
	"Mutation.rejectChange":          changeDecision("rejectChange", "REJECTED"),
	"Mutation.scheduleChange":        changeAction("scheduleChange", "ScheduleChangeInput", "SCHEDULED", nil, "STANDARD"),
	"Mutation.implementChange":       changeAction("implementChange", "ChangeActionInput", "IMPLEMENT", nil, "STANDARD", "scheduleChange"),
	"Mutation.reviewChange":          changeAction("reviewChange", "ChangeActionInput", "REVIEW", nil, "STANDARD", "scheduleChange", "implementChange"),
	"Mutation.closeChange": changeAction("closeChange", "CloseChangeInput", "CLOSED", map[string]any{"closeCode": "SUCCESSFUL"}, "STANDARD",
		"scheduleChange", "implementChange", "reviewChange"),
	"Mutation.cancelChange": changeAction("cancelChange", "CancelChangeInput", "CANCELED", nil, "NORMAL"),
	"Mutation.addChangeNote": {query: `mutation($in: AddNoteInput!) { addChangeNote(input: $in) { entry { id } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"in": map[string]any{"id": m.change(t, "NORMAL"), "type": "COMMENT", "text": "matrix"}}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, `query($id: ID!) { change(id: $id) { journal { totalCount } } }`, map[string]any{"id": vars["in"].(map[string]any)["id"]})
			assert.Equal(t, map[bool]float64{true: 1, false: 0}[allowed], get(d, "change", "journal", "totalCount"))
		}},
	"Query.changeTask": {query: `query($id: ID!) { changeTask(id: $id) { number state change { number } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any { return map[string]any{"id": m.task(t, "ChangeTask")} }},
	"Query.changeTasks":          {query: `{ changeTasks(first: 1) { totalCount } }`},
	"Mutation.createChangeTask":  taskCreate("ChangeTask"),
	"Mutation.updateChangeTask":  taskUpdate("ChangeTask"),
	"Mutation.startChangeTask":   taskAction("ChangeTask", "startChangeTask", "TaskActionInput", "IN_PROGRESS", nil),
	"Mutation.closeChangeTask":   taskAction("ChangeTask", "closeChangeTask", "CloseTaskInput", "CLOSED", map[string]any{"closeCode": "COMPLETED"}, "startChangeTask"),
	"Mutation.cancelChangeTask":  taskAction("ChangeTask", "cancelChangeTask", "CancelTaskInput", "CANCELED", nil),
	"Mutation.addChangeTaskNote": taskAction("ChangeTask", "addChangeTaskNote", "AddNoteInput", "NOTE", map[string]any{"text": "matrix", "type": "WORK_NOTE"}),
	"Query.problemTask": {query: `query($id: ID!) { problemTask(id: $id) { number state problem { number } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any { return map[string]any{"id": m.task(t, "ProblemTask")} }},
	"Query.problemTasks":          {query: `{ problemTasks(first: 1) { totalCount } }`},
	"Mutation.createProblemTask":  taskCreate("ProblemTask"),
	"Mutation.updateProblemTask":  taskUpdate("ProblemTask"),
	"Mutation.assessProblemTask":  taskAction("ProblemTask", "assessProblemTask", "TaskActionInput", "ASSESS", nil),
	"Mutation.startProblemTask":   taskAction("ProblemTask", "startProblemTask", "TaskActionInput", "WORK_IN_PROGRESS", nil),
	"Mutation.closeProblemTask":   taskAction("ProblemTask", "closeProblemTask", "CloseTaskInput", "CLOSED", map[string]any{"closeCode": "COMPLETED"}, "startProblemTask"),
	"Mutation.cancelProblemTask":  taskAction("ProblemTask", "cancelProblemTask", "CancelTaskInput", "CLOSED", nil),
	"Mutation.addProblemTaskNote": taskAction("ProblemTask", "addProblemTaskNote", "AddNoteInput", "NOTE", map[string]any{"text": "matrix", "type": "WORK_NOTE"}),
	"Query.changeWindow": {query: `query($id: ID!) { changeWindow(id: $id) { name type } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any { return map[string]any{"id": m.window(t)} }},
	"Query.changeWindows": {query: `{ changeWindows(first: 1) { totalCount } }`},
	"Mutation.createChangeWindow": {query: `mutation($in: CreateChangeWindowInput!) { createChangeWindow(input: $in) { changeWindow { id } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"in": map[string]any{"name": m.name("matrix-window-"), "type": "BLACKOUT",
				"startAt": "2031-12-20T00:00:00Z", "endAt": "2032-01-03T00:00:00Z"}}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, `query($n: String!) { changeWindow(name: $n) { id } }`, map[string]any{"n": vars["in"].(map[string]any)["name"]})
			assert.Equal(t, allowed, get(d, "changeWindow") != nil)
		}},
	"Mutation.updateChangeWindow": {query: `mutation($in: UpdateChangeWindowInput!) { updateChangeWindow(input: $in) { changeWindow { description } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"in": map[string]any{"id": m.window(t), "description": "matrix"}}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, `query($id: ID!) { changeWindow(id: $id) { description } }`, map[string]any{"id": vars["in"].(map[string]any)["id"]})
			assert.Equal(t, allowed, get(d, "changeWindow", "description") == "matrix")
		}},
	"Query.changeOutcomesByClass": {query: `{ changeOutcomesByClass { class outcomes { total successRate } } }`},
	"Query.knowledgeArticle": {query: `query($id: ID!) { knowledgeArticle(id: $id) { number state versions { number } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any { return map[string]any{"id": m.article(t)} }},
	"Query.knowledgeArticles": {query: `{ knowledgeArticles(first: 1) { totalCount } }`},
	"Query.knowledgeSearch":   {query: `{ knowledgeSearch(text: "matrix", first: 1) { totalCount } }`},
	"Mutation.createKnowledgeArticle": {query: `mutation($in: CreateKnowledgeArticleInput!) { createKnowledgeArticle(input: $in) { knowledgeArticle { id } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"in": map[string]any{"title": m.name("matrix-new-article-")}}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, `query($w: CIWhere) { knowledgeArticles(where: $w) { totalCount } }`,
				map[string]any{"w": map[string]any{"attribute": "short_description", "eq": vars["in"].(map[string]any)["title"]}})
			assert.Equal(t, allowed, get(d, "knowledgeArticles", "totalCount") == 1.0)
		}},
	"Mutation.updateKnowledgeArticle": {query: `mutation($in: UpdateKnowledgeArticleInput!) { updateKnowledgeArticle(input: $in) { knowledgeArticle { body } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"in": map[string]any{"id": m.article(t), "body": "matrix edited"}}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, `query($id: ID!) { knowledgeArticle(id: $id) { body } }`, map[string]any{"id": vars["in"].(map[string]any)["id"]})
			assert.Equal(t, allowed, get(d, "knowledgeArticle", "body") == "matrix edited")
		}},
	"Mutation.submitKnowledgeArticle":  articleOp("submitKnowledgeArticle", "REVIEW"),
	"Mutation.publishKnowledgeArticle": articleOp("publishKnowledgeArticle", "PUBLISHED", "submitKnowledgeArticle"),
	"Mutation.reviseKnowledgeArticle":  articleOp("reviseKnowledgeArticle", "DRAFT", "submitKnowledgeArticle", "publishKnowledgeArticle"),
	"Mutation.retireKnowledgeArticle":  articleOp("retireKnowledgeArticle", "RETIRED", "submitKnowledgeArticle", "publishKnowledgeArticle"),
	"Mutation.sendBackKnowledgeArticle": {query: `mutation($id: ID!) { sendBackKnowledgeArticle(input: {id: $id, reviewNotes: "matrix"}) { knowledgeArticle { state } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"id": m.article(t, "submitKnowledgeArticle")}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, `query($id: ID!) { knowledgeArticle(id: $id) { state } }`, vars)
			assert.Equal(t, allowed, get(d, "knowledgeArticle", "state") == "DRAFT")
		}},
	"Mutation.recordArticleView": {query: `mutation($id: ID!) { recordArticleView(input: {id: $id}) { knowledgeArticle { viewCount } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any { return map[string]any{"id": m.article(t)} },
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, `query($id: ID!) { knowledgeArticle(id: $id) { viewCount } }`, vars)
			assert.Equal(t, allowed, get(d, "knowledgeArticle", "viewCount") == 1.0)
		}},
	"Mutation.voteArticle": {query: `mutation($id: ID!) { voteArticle(input: {id: $id, helpful: true}) { knowledgeArticle { helpfulCount } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"id": m.article(t, "submitKnowledgeArticle", "publishKnowledgeArticle")}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, `query($id: ID!) { knowledgeArticle(id: $id) { helpfulCount } }`, vars)
			assert.Equal(t, allowed, get(d, "knowledgeArticle", "helpfulCount") == 1.0)
		}},
	"Query.changeTemplate": {query: `query($n: String!) { changeTemplate(name: $n) { name active } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			stdTemplate(t, m.url)
			return map[string]any{"n": "Test standard change"}
		}},
	"Query.changeTemplates": {query: `{ changeTemplates(first: 1) { totalCount } }`},
	"Mutation.createChangeTemplate": {query: `mutation($in: CreateChangeTemplateInput!) { createChangeTemplate(input: $in) { changeTemplate { id } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"in": map[string]any{"name": m.name("matrix-template-")}}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, `query($n: String!) { changeTemplate(name: $n) { id } }`, map[string]any{"n": vars["in"].(map[string]any)["name"]})
			assert.Equal(t, allowed, get(d, "changeTemplate") != nil)
		}},
	"Mutation.updateChangeTemplate": {query: `mutation($in: UpdateChangeTemplateInput!) { updateChangeTemplate(input: $in) { changeTemplate { description } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			d := ok(t, m.url, `mutation($n: String!) { createChangeTemplate(input: {name: $n}) { changeTemplate { id } } }`, map[string]any{"n": m.name("matrix-template-")})
			return map[string]any{"in": map[string]any{"id": get(d, "createChangeTemplate", "changeTemplate", "id"), "description": "matrix"}}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, `query($id: ID!) { changeTemplate(id: $id) { description } }`, map[string]any{"id": vars["in"].(map[string]any)["id"]})
			assert.Equal(t, allowed, get(d, "changeTemplate", "description") == "matrix")
		}},
	"Query.asset": {query: `query($id: ID!) { asset(id: $id) { assetTag state model { name } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any { return map[string]any{"id": m.asset(t, true)} }},
	"Query.assets":      {query: `{ assets(first: 1) { totalCount } }`},
	"Query.assetModels": {query: `{ assetModels(first: 1) { totalCount } }`},
	"Query.stockLevels": {query: `{ stockLevels { inStock low } }`},
	"Query.assetModel": {query: `query($id: ID!) { assetModel(id: $id) { name inStock } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any { return map[string]any{"id": m.assetModel(t)} }},
	"Mutation.createAsset": {query: `mutation($in: CreateAssetInput!) { createAsset(input: $in) { asset { id } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"in": map[string]any{"modelId": m.assetModel(t), "assetTag": m.name("MTX-NEW-")}}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, `query($tag: String!) { asset(assetTag: $tag) { id } }`, map[string]any{"tag": vars["in"].(map[string]any)["assetTag"]})
			assert.Equal(t, allowed, get(d, "asset") != nil)
		}},
	"Mutation.updateAsset": {query: `mutation($in: UpdateAssetInput!) { updateAsset(input: $in) { asset { location } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"in": map[string]any{"id": m.asset(t, true), "location": "matrix"}}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, `query($id: ID!) { asset(id: $id) { location } }`, map[string]any{"id": vars["in"].(map[string]any)["id"]})
			assert.Equal(t, allowed, get(d, "asset", "location") == "matrix")
		}},
	"Mutation.receiveAsset":       assetAction("receiveAsset", "AssetActionInput", "IN_STOCK", nil, false),
	"Mutation.assignAsset":        assetAction("assignAsset", "AssignAssetInput", "IN_USE", nil, true),
	"Mutation.unassignAsset":      assetAction("unassignAsset", "AssetActionInput", "IN_STOCK", nil, true, "assignAsset"),
	"Mutation.repairAsset":        assetAction("repairAsset", "AssetNotesInput", "IN_MAINTENANCE", nil, true),
	"Mutation.returnAssetToStock": assetAction("returnAssetToStock", "AssetActionInput", "IN_STOCK", nil, true, "repairAsset"),
	"Mutation.retireAsset":        assetAction("retireAsset", "AssetNotesInput", "RETIRED", nil, true),
	"Mutation.disposeAsset":       assetAction("disposeAsset", "DisposeAssetInput", "DISPOSED", map[string]any{"reason": "recycled"}, true, "retireAsset"),
	"Mutation.setAssetCI": {query: `mutation($in: SetAssetCIInput!) { setAssetCI(input: $in) { asset { id } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			d := ok(t, m.url, upsertMutation, map[string]any{"in": map[string]any{"source": "test", "items": []any{item("Server", map[string]any{"name": m.name("matrix-asset-ci-"), "serial_number": m.name("ACI")})}}})
			return map[string]any{"in": map[string]any{"assetId": m.asset(t, true), "ciId": get(d, "upsertCIs", "results", 0, "ci", "id")}}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, `query($id: ID!) { asset(id: $id) { ci { id } } }`, map[string]any{"id": vars["in"].(map[string]any)["assetId"]})
			assert.Equal(t, allowed, get(d, "asset", "ci") != nil)
		}},
	"Mutation.createAssetModel": {query: `mutation($in: CreateAssetModelInput!) { createAssetModel(input: $in) { assetModel { id } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"in": map[string]any{"name": m.name("matrix-new-model-")}}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, `query($n: String!) { assetModel(name: $n) { id } }`, map[string]any{"n": vars["in"].(map[string]any)["name"]})
			assert.Equal(t, allowed, get(d, "assetModel") != nil)
		}},
	"Mutation.updateAssetModel": {query: `mutation($in: UpdateAssetModelInput!) { updateAssetModel(input: $in) { assetModel { manufacturer } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"in": map[string]any{"id": m.assetModel(t), "manufacturer": "matrix"}}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, `query($id: ID!) { assetModel(id: $id) { manufacturer } }`, map[string]any{"id": vars["in"].(map[string]any)["id"]})
			assert.Equal(t, allowed, get(d, "assetModel", "manufacturer") == "matrix")
		}},
	"Query.catalogItems": {query: `{ catalogItems(first: 1) { totalCount } }`},
	"Query.catalogItem": {query: `query($id: ID!) { catalogItem(id: $id) { name variables { name } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			d := ok(t, m.url, `mutation($n: String!) { createCatalogItem(input: {name: $n}) { catalogItem { id } } }`, map[string]any{"n": m.name("matrix-item-")})
			return map[string]any{"id": get(d, "createCatalogItem", "catalogItem", "id")}
		}},
	"Mutation.createCatalogItem": {query: `mutation($in: CreateCatalogItemInput!) { createCatalogItem(input: $in) { catalogItem { id } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"in": map[string]any{"name": m.name("matrix-new-item-"), "variables": []any{map[string]any{"name": "why", "type": "TEXT"}}}}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, `query($n: String!) { catalogItem(name: $n) { id } }`, map[string]any{"n": vars["in"].(map[string]any)["name"]})
			assert.Equal(t, allowed, get(d, "catalogItem") != nil)
		}},
	"Mutation.updateCatalogItem": {query: `mutation($in: UpdateCatalogItemInput!) { updateCatalogItem(input: $in) { catalogItem { category } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			d := ok(t, m.url, `mutation($n: String!) { createCatalogItem(input: {name: $n}) { catalogItem { id } } }`, map[string]any{"n": m.name("matrix-item-")})
			return map[string]any{"in": map[string]any{"id": get(d, "createCatalogItem", "catalogItem", "id"), "category": "matrix"}}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, `query($id: ID!) { catalogItem(id: $id) { category } }`, map[string]any{"id": vars["in"].(map[string]any)["id"]})
			assert.Equal(t, allowed, get(d, "catalogItem", "category") == "matrix")
		}},
	"Query.problem": {query: `query($id: ID!) { problem(id: $id) { number state } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any { return map[string]any{"id": m.problem(t)} }},
	"Query.problems":    {query: `{ problems(first: 1) { totalCount } }`},
	"Query.knownErrors": {query: `{ knownErrors(first: 1) { totalCount } }`},
	"Mutation.createProblem": {query: `mutation($in: CreateProblemInput!) { createProblem(input: $in) { problem { id } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"in": map[string]any{"shortDescription": m.name("matrix-new-problem-")}}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, `query($w: CIWhere) { problems(where: $w) { totalCount } }`,
				map[string]any{"w": map[string]any{"attribute": "short_description", "eq": vars["in"].(map[string]any)["shortDescription"]}})
			assert.Equal(t, map[bool]float64{true: 1, false: 0}[allowed], get(d, "problems", "totalCount"))
		}},
	"Mutation.updateProblem": {query: `mutation($in: UpdateProblemInput!) { updateProblem(input: $in) { problem { category } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"in": map[string]any{"id": m.problem(t), "category": "matrix"}}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, `query($id: ID!) { problem(id: $id) { category } }`, map[string]any{"id": vars["in"].(map[string]any)["id"]})
			assert.Equal(t, allowed, get(d, "problem", "category") == "matrix")
		}},
	"Mutation.assessProblem":  problemAction("assessProblem", "ProblemActionInput", "ASSESS", nil),
	"Mutation.analyzeProblem": problemAction("analyzeProblem", "ProblemActionInput", "ROOT_CAUSE_ANALYSIS", nil, "assessProblem"),
	"Mutation.fixProblem":     problemAction("fixProblem", "ProblemActionInput", "FIX_IN_PROGRESS", nil, "assessProblem", "analyzeProblem"),
	"Mutation.resolveProblem": problemAction("resolveProblem", "ResolveProblemInput", "RESOLVED", map[string]any{"resolutionCode": "FIX_APPLIED"},
		"assessProblem", "analyzeProblem", "fixProblem"),
	"Mutation.closeProblem": problemAction("closeProblem", "ProblemActionInput", "CLOSED", nil,
		"assessProblem", "analyzeProblem", "fixProblem", "resolveProblem"),
	"Mutation.cancelProblem": problemAction("cancelProblem", "CancelProblemInput", "CLOSED", nil),
	"Mutation.linkIncidentToProblem": {query: `mutation($in: LinkIncidentToProblemInput!) { linkIncidentToProblem(input: $in) { incident { id } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"in": map[string]any{"incidentId": m.incident(t), "problemId": m.problem(t)}}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, `query($id: ID!) { incident(id: $id) { problem { id } } }`, map[string]any{"id": vars["in"].(map[string]any)["incidentId"]})
			assert.Equal(t, allowed, get(d, "incident", "problem") != nil)
		}},
	"Mutation.setProblemFixChange": {query: `mutation($in: SetProblemFixChangeInput!) { setProblemFixChange(input: $in) { problem { id } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"in": map[string]any{"problemId": m.problem(t), "changeId": m.change(t, "NORMAL")}}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, `query($id: ID!) { problem(id: $id) { fixChange { id } } }`, map[string]any{"id": vars["in"].(map[string]any)["problemId"]})
			assert.Equal(t, allowed, get(d, "problem", "fixChange") != nil)
		}},
	"Mutation.setProblemRootCauseCI": {query: `mutation($in: SetProblemRootCauseCIInput!) { setProblemRootCauseCI(input: $in) { problem { id } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			d := ok(t, m.url, upsertMutation, map[string]any{"in": map[string]any{"source": "test", "items": []any{item("Server", map[string]any{"name": m.name("matrix-rc-"), "serial_number": m.name("RC")})}}})
			return map[string]any{"in": map[string]any{"problemId": m.problem(t), "ciId": get(d, "upsertCIs", "results", 0, "ci", "id")}}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, `query($id: ID!) { problem(id: $id) { rootCauseCI { id } } }`, map[string]any{"id": vars["in"].(map[string]any)["problemId"]})
			assert.Equal(t, allowed, get(d, "problem", "rootCauseCI") != nil)
		}},
	"Mutation.addProblemNote": {query: `mutation($in: AddNoteInput!) { addProblemNote(input: $in) { entry { id } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"in": map[string]any{"id": m.problem(t), "type": "WORK_NOTE", "text": "matrix"}}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, `query($id: ID!) { problem(id: $id) { journal { totalCount } } }`, map[string]any{"id": vars["in"].(map[string]any)["id"]})
			assert.Equal(t, map[bool]float64{true: 1, false: 0}[allowed], get(d, "problem", "journal", "totalCount"))
		}},
	"Mutation.setIncidentCause": {query: `mutation($in: SetIncidentCauseInput!) { setIncidentCause(input: $in) { incident { id } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"in": map[string]any{"incidentId": m.incident(t), "changeId": m.change(t, "STANDARD")}}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, `query($id: ID!) { incident(id: $id) { causedBy { id } } }`, map[string]any{"id": vars["in"].(map[string]any)["incidentId"]})
			assert.Equal(t, allowed, get(d, "incident", "causedBy") != nil)
		}},
	"Query.webhooks": {query: `{ webhooks { name } }`},
	"Mutation.createWebhook": {query: `mutation($in: CreateWebhookInput!) { createWebhook(input: $in) { webhook { id } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"in": map[string]any{"name": m.name("matrix-hook-"), "url": "http://127.0.0.1:9/hook", "events": []any{"problem.created"}}}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, `{ webhooks { name } }`, nil)
			found := false
			for _, h := range get(d, "webhooks").([]any) {
				found = found || get(h, "name") == vars["in"].(map[string]any)["name"]
			}
			assert.Equal(t, allowed, found)
		}},
	"Mutation.updateWebhook": {query: `mutation($in: UpdateWebhookInput!) { updateWebhook(input: $in) { webhook { active } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			d := ok(t, m.url, `mutation($in: CreateWebhookInput!) { createWebhook(input: $in) { webhook { id } } }`,
				map[string]any{"in": map[string]any{"name": m.name("matrix-hook-"), "url": "http://127.0.0.1:9/hook", "events": []any{"problem.created"}}})
			return map[string]any{"in": map[string]any{"id": get(d, "createWebhook", "webhook", "id"), "active": false}}
		}},
	"Mutation.addIncidentNote": {query: `mutation($in: AddNoteInput!) { addIncidentNote(input: $in) { entry { id } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"in": map[string]any{"id": m.incident(t), "type": "WORK_NOTE", "text": "matrix"}}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, `query($id: ID!) { incident(id: $id) { journal { totalCount } } }`, map[string]any{"id": vars["in"].(map[string]any)["id"]})
			assert.Equal(t, map[bool]float64{true: 1, false: 0}[allowed], get(d, "incident", "journal", "totalCount"))
		}},
	"Query.groups": {query: `{ groups(search: "matrix", first: 1) { totalCount } }`},
	"Mutation.upsertPeople": {query: `mutation($in: UpsertPeopleInput!) { upsertPeople(input: $in) { created failed results { person { id userName } } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			n := m.name("matrix-up-")
			return map[string]any{"in": map[string]any{"source": "matrix", "items": []any{map[string]any{"attributes": map[string]any{"user_name": n, "name": n}}}}}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			name := vars["in"].(map[string]any)["items"].([]any)[0].(map[string]any)["attributes"].(map[string]any)["user_name"]
			d := ok(t, m.url, `query($w: CIWhere) { people(where: $w) { totalCount } }`, map[string]any{"w": map[string]any{"attribute": "user_name", "eq": name}})
			assert.Equal(t, map[bool]float64{true: 1, false: 0}[allowed], get(d, "people", "totalCount"), "person %s", name)
		}},
	"Mutation.upsertGroups": {query: `mutation($in: UpsertGroupsInput!) { upsertGroups(input: $in) { created failed } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"in": map[string]any{"source": "matrix", "items": []any{map[string]any{"attributes": map[string]any{"name": m.name("matrix-upg-")}}}}}
		}},
	"Mutation.updatePerson": {query: `mutation($in: UpdateNodeInput!) { updatePerson(input: $in) { changedFields } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"in": map[string]any{"id": m.person(t), "attributes": map[string]any{"title": "changed by the matrix"}}}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, `query($id: ID!) { person(id: $id) { title } }`, map[string]any{"id": vars["in"].(map[string]any)["id"]})
			assert.Equal(t, allowed, get(d, "person", "title") == "changed by the matrix")
		}},
	"Mutation.updateGroup": {query: `mutation($in: UpdateNodeInput!) { updateGroup(input: $in) { changedFields } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"in": map[string]any{"id": m.group(t), "attributes": map[string]any{"description": "changed by the matrix"}}}
		}},
	"Mutation.deactivatePerson": {query: `mutation($in: DeactivateInput!) { deactivatePerson(input: $in) { person { active } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"in": map[string]any{"id": m.person(t)}}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, `query($id: ID!) { person(id: $id) { active } }`, map[string]any{"id": vars["in"].(map[string]any)["id"]})
			assert.Equal(t, !allowed, get(d, "person", "active"), "a refused deactivation changes nothing")
		}},
	"Mutation.deactivateGroup": {query: `mutation($in: DeactivateInput!) { deactivateGroup(input: $in) { group { active } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"in": map[string]any{"id": m.group(t)}}
		}},
	"Mutation.addGroupMembers":    membersOp("addGroupMembers"),
	"Mutation.removeGroupMembers": membersOp("removeGroupMembers"),
	"Mutation.setGroupManager": {query: `mutation($in: SetGroupManagerInput!) { setGroupManager(input: $in) { group { id } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"in": map[string]any{"groupId": m.group(t), "personId": m.person(t)}}
		}},
	"Mutation.mergeCIs": {query: `mutation($in: MergeCIsInput!) { mergeCIs(input: $in) { movedRelationships } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"in": map[string]any{"survivor": m.ci(t), "duplicate": m.ci(t)}}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, `query($id: ID!) { ci(id: $id) { status } }`, map[string]any{"id": vars["in"].(map[string]any)["duplicate"]})
			assert.Equal(t, allowed, get(d, "ci", "status") == "retired", "a refused merge changes nothing")
		}},
	"Mutation.registerCIClass": {query: `mutation($in: RegisterCIClassInput!) { registerCIClass(input: $in) { ciClass { name } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"in": map[string]any{"name": m.name("MatrixClass"), "parent": "CI", "identificationRules": []any{[]any{"name"}}}}
		}},
	"Mutation.registerRelationshipType": {query: `mutation($in: RegisterRelationshipTypeInput!) { registerRelationshipType(input: $in) { relationshipType { name } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"in": map[string]any{"name": m.name("MATRIX_"), "propagates": "NONE"}}
		}},
	"Mutation.retireCIClass": {query: `mutation($in: RetireCIClassInput!) { retireCIClass(input: $in) { name } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			name := m.name("RetiredClass")
			_, err := m.a.CMDB.RegisterClass(t.Context(), store.Actor{Name: "matrix", Source: "api"}, cmdb.ClassDef{Name: name, Parent: "CI", Identification: [][]string{{"name"}}})
			require.NoError(t, err)
			return map[string]any{"in": map[string]any{"name": name}}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			_, still := m.a.CMDB.Model().Class(vars["in"].(map[string]any)["name"].(string))
			assert.Equal(t, !allowed, still, "a refused retirement changes nothing")
		}},
	"Mutation.retireRelationshipType": {query: `mutation($in: RetireRelationshipTypeInput!) { retireRelationshipType(input: $in) { name } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			name := m.name("RETIRED_")
			_, err := m.a.CMDB.RegisterRelationshipType(t.Context(), store.Actor{Name: "matrix", Source: "api"}, cmdb.RelTypeDef{Name: name, Impact: cmdb.Impact{Propagates: cmdb.PropagatesNone}})
			require.NoError(t, err)
			return map[string]any{"in": map[string]any{"name": name}}
		}},
	"Mutation.createAPIToken": {query: `mutation($in: CreateAPITokenInput!) { createAPIToken(input: $in) { token apiToken { role } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"in": map[string]any{"name": m.name("matrix-token-"), "role": "VIEWER", "expiresIn": "1d"}}
		}},
	"Mutation.revokeAPIToken": {query: `mutation($in: RevokeAPITokenInput!) { revokeAPIToken(input: $in) { apiToken { active } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			_, rec, err := auth.Issue(t.Context(), m.a.Store, store.Actor{Name: "matrix", Source: "api"}, m.name("victim-"), auth.Viewer, time.Time{})
			require.NoError(t, err)
			return map[string]any{"in": map[string]any{"tokenId": rec.ID}}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			rec, err := m.a.Store.Token(t.Context(), vars["in"].(map[string]any)["tokenId"].(string))
			require.NoError(t, err)
			assert.Equal(t, !allowed, rec.Active(time.Now()), "a refused revocation changes nothing")
		}},
}

// TestRoleMatrix runs every root field as every role, on both backends, and
// checks each cell against the matrix documented in docs/SECURITY.md; then
// that revoked, expired, unknown and malformed tokens are refused.
func TestRoleMatrix(t *testing.T) {
	matrix := readRoleMatrix(t)
	fields := schemaRootFields(t)
	for _, f := range fields {
		require.Contains(t, matrix, f, "docs/SECURITY.md's role matrix has no row for %s", f)
		require.Contains(t, matrixOps, f, "TestRoleMatrix has no operation for %s", f)
	}
	for f := range matrix {
		require.Contains(t, fields, f, "docs/SECURITY.md documents %s, which the schema does not have", f)
	}
	for name, cfg := range backendConfigs(t) {
		t.Run(name, func(t *testing.T) {
			c := cfg(t)
			c.Server.RateLimit = 0 // the admin's set-up requests are many; limits are tested elsewhere
			srv, a := apiServer(t, c)
			m := &matrixEnv{url: srv.URL, a: a}
			tokens := map[auth.Role]string{auth.Anonymous: ""}
			for _, r := range auth.TokenRoles {
				tokens[r] = issueToken(t, a, "matrix "+string(r), r, "matrix")
			}
			slices.Sort(fields)
			for _, f := range fields {
				field := strings.SplitN(f, ".", 2)[1]
				op := matrixOps[f]
				for _, role := range matrixRoles {
					var vars map[string]any
					if op.prepare != nil {
						vars = op.prepare(t, m)
					}
					body, err := json.Marshal(map[string]any{"query": op.query, "variables": vars})
					require.NoError(t, err)
					r := postAs(t, srv.URL, tokens[role], string(body))
					allowed := matrix[f][role]
					if !allowed && role == auth.Anonymous {
						// Refused whole before it runs: 401 with a challenge.
						require.Equal(t, http.StatusUnauthorized, r.status, "%s as %s: %s", f, role, r.raw)
						assert.Equal(t, `Bearer realm="skein"`, r.header.Get("WWW-Authenticate"), "%s as %s", f, role)
					} else {
						require.Equal(t, http.StatusOK, r.status, "%s as %s: %s", f, role, r.raw)
					}
					if allowed {
						assert.Empty(t, r.Errors, "%s as %s is allowed: %s", f, role, r.raw)
						assert.Contains(t, r.Data, field, "%s as %s answers", f, role)
					} else if assert.Len(t, r.Errors, 1, "%s as %s is refused: %s", f, role, r.raw) {
						want := "FORBIDDEN"
						if role == auth.Anonymous {
							want = "UNAUTHENTICATED"
						}
						assert.Equal(t, want, r.Errors[0].Extensions["code"], "%s as %s: %s", f, role, r.raw)
						assert.Contains(t, r.Errors[0].Message, f, "the refusal names the field")
						assert.Nil(t, r.Data[field], "%s as %s: no data", f, role)
					}
					if op.after != nil {
						op.after(t, m, vars, allowed)
					}
				}
			}
			testRefusedTokens(t, srv.URL, a)
		})
	}
}

// testRefusedTokens: a revoked, expired, unknown or malformed token is
// refused with 401, for reads as for writes, naming no secret.
func testRefusedTokens(t *testing.T, url string, a *app) {
	actor := store.Actor{Name: "matrix", Source: "api"}
	revoked, rec, err := auth.Issue(t.Context(), a.Store, actor, "revoked", auth.Admin, time.Time{})
	require.NoError(t, err)
	_, err = a.Store.RevokeToken(t.Context(), actor, rec.ID)
	require.NoError(t, err)
	expired, expRec := auth.NewToken("expired", auth.Admin, time.Now().Add(-time.Second))
	require.NoError(t, a.Store.CreateToken(t.Context(), actor, expRec))
	unknown, _ := auth.NewToken("unknown", auth.Admin, time.Time{})
	valid := issueToken(t, a, "valid", auth.Admin)
	forged := valid[:len(valid)-43] + strings.Repeat("A", 43)
	for name, tok := range map[string]string{"revoked": revoked, "expired": expired, "unknown": unknown, "forged": forged, "malformed": "skn_nope"} {
		for _, q := range []string{`{ version }`, `mutation { ping }`} {
			r := postAs(t, url, tok, `{"query":"`+q+`"}`)
			assert.Equal(t, http.StatusUnauthorized, r.status, "%s token, %s: %s", name, q, r.raw)
			if assert.Len(t, r.Errors, 1, r.raw) {
				assert.Equal(t, "UNAUTHENTICATED", r.Errors[0].Extensions["code"], name)
			}
			if len(tok) > 15 {
				assert.NotContains(t, r.raw, tok[15:], "%s: the answer never echoes the secret", name)
			}
		}
	}
}

// TestAnonymousAccess: without a token reads work only on loopback with
// auth.anonymous_read; writes never.
func TestAnonymousAccess(t *testing.T) {
	tests := []struct {
		name     string
		addr     string
		anonRead bool
		reads    bool
	}{
		{"loopback", "127.0.0.1:8080", true, true},
		{"localhost", "localhost:8080", true, true},
		{"IPv6 loopback", "[::1]:8080", true, true},
		{"loopback, anonymous reads off", "127.0.0.1:8080", false, false},
		{"all interfaces", "0.0.0.0:8080", true, false},
		{"empty host", ":8080", true, false},
		{"LAN address", "192.0.2.10:8080", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.Store.DataDir = t.TempDir()
			cfg.Server.Addr, cfg.Auth.AnonymousRead = tt.addr, tt.anonRead
			srv, _ := apiServer(t, cfg)
			r := postAs(t, srv.URL, "", `{"query":"{ cis(first: 1) { totalCount } }"}`)
			if tt.reads {
				assert.Equal(t, http.StatusOK, r.status, r.raw)
				assert.Empty(t, r.Errors, r.raw)
			} else {
				assert.Equal(t, http.StatusUnauthorized, r.status, r.raw)
				require.Len(t, r.Errors, 1, r.raw)
				assert.Equal(t, "UNAUTHENTICATED", r.Errors[0].Extensions["code"])
				assert.Contains(t, r.Errors[0].Message, "Authorization: Bearer")
			}
			w := postAs(t, srv.URL, "", `{"query":"mutation { upsertCIs(input: {items: [{class: \"Application\", attributes: {name: \"x\"}}]}) { created } }"}`)
			require.NotEmpty(t, w.Errors, "an unauthenticated request never writes: %s", w.raw)
			assert.Equal(t, "UNAUTHENTICATED", w.Errors[0].Extensions["code"])
			d := ok(t, srv.URL, `{ cis(first: 1) { totalCount } }`, nil) // as admin
			assert.Equal(t, float64(0), get(d, "cis", "totalCount"), "nothing was written")
		})
	}
}

// TestAgentSource: agents write as a discovery source, never as "api".
func TestAgentSource(t *testing.T) {
	cfg := config.Default()
	cfg.Store.DataDir = t.TempDir()
	srv, a := apiServer(t, cfg)
	agent := issueToken(t, a, "vcenter discovery", auth.Agent, "agent", "vcenter")
	upsert := func(source string) gqlResponse {
		in := map[string]any{"items": []any{item("Application", map[string]any{"name": "agent-app"})}}
		if source != "" {
			in["source"] = source
		}
		b, err := json.Marshal(map[string]any{"query": `mutation($in: UpsertCIsInput!) { upsertCIs(input: $in) { results { ci { id } } } }`, "variables": map[string]any{"in": in}})
		require.NoError(t, err)
		return postAs(t, srv.URL, agent, string(b))
	}
	r := upsert("api")
	require.Len(t, r.Errors, 1, r.raw)
	assert.Equal(t, "INVALID", r.Errors[0].Extensions["code"])
	assert.Equal(t, "input.source", r.Errors[0].Extensions["field"])

	r = upsert("")
	require.Empty(t, r.Errors, r.raw)
	id := get(r.Data, "upsertCIs", "results", 0, "ci", "id").(string)
	r = upsert("vcenter")
	require.Empty(t, r.Errors, r.raw)
	d := ok(t, srv.URL, `query($id: ID!) { ci(id: $id) { seenBy { source } history { edges { node { actor source } } } } }`, map[string]any{"id": id})
	edges := get(d, "ci", "history", "edges").([]any)
	require.NotEmpty(t, edges)
	actor := get(edges[len(edges)-1], "node", "actor").(string)
	assert.Regexp(t, `^vcenter discovery \(token [a-z2-7]{10}\)$`, actor, "the token is the audit actor")
	assert.Equal(t, "agent", get(edges[len(edges)-1], "node", "source"), "an agent's default source")
	var sources []string
	for _, s := range get(d, "ci", "seenBy").([]any) {
		sources = append(sources, get(s, "source").(string))
	}
	assert.ElementsMatch(t, []string{"agent", "vcenter"}, sources)
}

// TestAgentCannotWalkFromPayloads: an agent, which may not read the graph,
// cannot walk it from the CIs its mutations return either; an engineer
// can.
func TestAgentCannotWalkFromPayloads(t *testing.T) {
	cfg := config.Default()
	cfg.Store.DataDir = t.TempDir()
	srv, a := apiServer(t, cfg)
	ids := upsertIDs(t, srv.URL, item("Application", map[string]any{"name": "walk-a"}), item("Application", map[string]any{"name": "walk-b"}))
	ok(t, srv.URL, `mutation($in: CreateRelationshipsInput!) { createRelationships(input: $in) { results { status } } }`,
		map[string]any{"in": map[string]any{"items": []any{map[string]any{"type": "DEPENDS_ON", "source": ids[0], "target": ids[1]}}}})
	agent := issueToken(t, a, "walker", auth.Agent, "walker")
	engineer := issueToken(t, a, "engineer", auth.Engineer)
	for _, sel := range []string{
		`relationships { totalCount }`, `dependencies { nodes { ci { name } } }`, `dependents { nodes { ci { name } } }`,
		`history { totalCount }`,
	} {
		q := `mutation($in: UpsertCIsInput!) { upsertCIs(input: $in) { created results { ci { id ` + sel + ` } } } }`
		b, err := json.Marshal(map[string]any{"query": q, "variables": map[string]any{"in": map[string]any{
			"source": "walker", "items": []any{item("Application", map[string]any{"name": "walk-a"})}}}})
		require.NoError(t, err)
		r := postAs(t, srv.URL, agent, string(b))
		require.NotEmpty(t, r.Errors, "%s: %s", sel, r.raw)
		assert.Equal(t, "FORBIDDEN", r.Errors[0].Extensions["code"], sel)
		assert.NotContains(t, r.raw, "walk-b", "%s: nothing beyond the written CI leaks", sel)
		r = postAs(t, srv.URL, engineer, string(b))
		assert.Empty(t, r.Errors, "%s as engineer: %s", sel, r.raw)
	}
}

// TestUnauthenticatedHTTP: what SECURITY.md promises at the HTTP level. An
// operation that needs a token, sent without one, is refused whole before
// anything runs with 401 and a WWW-Authenticate challenge, naming the
// field; a request with two Authorization headers is refused, whichever
// of them is valid.
func TestUnauthenticatedHTTP(t *testing.T) {
	srv, a := apiServer(t, limitsConfig(t))
	for _, q := range []string{
		`mutation { ping }`,
		`{ version apiTokens { tokenId } }`,
		`query { ...F } fragment F on Query { ... on Query { apiTokens { tokenId } } }`,
	} {
		r := postAs(t, srv.URL, "", `{"query":"`+strings.ReplaceAll(q, `"`, `\"`)+`"}`)
		assert.Equal(t, http.StatusUnauthorized, r.status, "%s: %s", q, r.raw)
		assert.Equal(t, `Bearer realm="skein"`, r.header.Get("WWW-Authenticate"), q)
		if assert.Len(t, r.Errors, 1, r.raw) {
			assert.Equal(t, "UNAUTHENTICATED", r.Errors[0].Extensions["code"], r.raw)
			assert.Contains(t, r.Errors[0].Message, "needs an API token", r.raw)
		}
		assert.Nil(t, r.Data, "nothing ran: %s", r.raw)
	}
	r := postAs(t, srv.URL, "", `{"query":"{ version }"}`)
	assert.Equal(t, http.StatusOK, r.status, "anonymous reads on loopback: %s", r.raw)
	assert.Empty(t, r.header.Get("WWW-Authenticate"))

	admin := issueToken(t, a, "one", auth.Admin)
	for name, second := range map[string]string{"two valid tokens": issueToken(t, a, "two", auth.Viewer), "a valid one and junk": "junk"} {
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/graphql", strings.NewReader(`{"query":"{ version }"}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Add("Authorization", "Bearer "+admin)
		req.Header.Add("Authorization", "Bearer "+second)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "%s: %s", name, raw)
		assert.Contains(t, string(raw), "UNAUTHENTICATED", name)
		assert.Contains(t, string(raw), "one Authorization header", name)
		assert.NotEmpty(t, resp.Header.Get("WWW-Authenticate"), name)
	}
}
