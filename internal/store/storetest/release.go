package storetest

// The previous-release fixture: a small estate written through this
// release's services, kept on disk for each backend (see
// testdata/release-2026-12/README.md), which every later release must open
// and find intact (CheckReleaseFixture).

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/store"
)

// ReleaseFixtureDir is the previous-release fixture's directory, relative
// to a backend package (internal/store/<backend>), where its tests run.
const ReleaseFixtureDir = "../storetest/testdata/release-2026-12"

// ReleaseManifest is what a store made by the previous release held, as
// that release's store API read it back right after writing it: the
// expectation CheckReleaseFixture holds a migrated store to. It is stored
// beside each backend's fixture as expected.json.
type ReleaseManifest struct {
	// Commit is the commit of the release that wrote the fixture.
	Commit        string          `json:"commit"`
	CIs           []CIView        `json:"cis"`
	Relationships []RelView       `json:"relationships"`
	Tokens        []TokenView     `json:"tokens"`
	Audit         []AuditView     `json:"audit"`
	Extensions    []ExtensionView `json:"extensions"`
	Conflicts     []ConflictView  `json:"conflicts"`
	// Names maps the estate's names (see buildEstate) to the IDs the store
	// gave them: CIs by name, relationships by a label, and the merged
	// pair, the open conflict's pair and the deleted CI.
	Names map[string]string `json:"names"`
	// Secrets maps a token's name to the token itself. They are test
	// secrets of a throwaway fixture, kept so the check can prove that a
	// token made by the previous release still authenticates.
	Secrets map[string]string `json:"secrets"`
}

// Value is an attribute value in a typed, exact text form: T is string,
// int, float, bool, time or list; S holds the scalar (a time in RFC 3339
// with nanoseconds, UTC), L the list. A nil value (an absent before or
// after of a change) is the zero Value.
type Value struct {
	T string   `json:"t,omitempty"`
	S string   `json:"s,omitempty"`
	L []string `json:"l,omitempty"`
}

// CIView is a store.CI in exact text form.
type CIView struct {
	ID         string            `json:"id"`
	Class      string            `json:"class"`
	Attributes map[string]Value  `json:"attributes"`
	Keys       []string          `json:"keys"`
	Sources    map[string]string `json:"sources"`
	SeenBy     map[string]string `json:"seen_by"`
	CreatedAt  string            `json:"created_at"`
	UpdatedAt  string            `json:"updated_at"`
	LastSeenAt string            `json:"last_seen_at"`
}

// RelView is a store.Relationship in exact text form.
type RelView struct {
	ID         string           `json:"id"`
	Type       string           `json:"type"`
	Source     string           `json:"source"`
	Target     string           `json:"target"`
	Attributes map[string]Value `json:"attributes"`
	CreatedAt  string           `json:"created_at"`
	UpdatedAt  string           `json:"updated_at"`
}

// TokenView is a store.APIToken in exact text form (the hash in hex).
type TokenView struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Role      string   `json:"role"`
	Hash      string   `json:"hash"`
	CreatedAt string   `json:"created_at"`
	CreatedBy string   `json:"created_by"`
	ExpiresAt string   `json:"expires_at"`
	RevokedAt string   `json:"revoked_at"`
	Sources   []string `json:"sources"`
}

// ChangeView is a store.FieldChange in exact text form.
type ChangeView struct {
	Field  string `json:"field"`
	Before *Value `json:"before,omitempty"`
	After  *Value `json:"after,omitempty"`
}

// AuditView is a store.AuditRecord in exact text form.
type AuditView struct {
	ID      string       `json:"id"`
	Time    string       `json:"time"`
	Actor   string       `json:"actor"`
	Source  string       `json:"source"`
	Kind    string       `json:"kind"`
	Object  string       `json:"object"`
	Action  string       `json:"action"`
	Changes []ChangeView `json:"changes"`
	Related []string     `json:"related"`
}

// ExtensionView is a store.ModelExtension in exact text form.
type ExtensionView struct {
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	Definition string `json:"definition"`
	CreatedAt  string `json:"created_at"`
}

// ConflictView is a store.IdentityConflict in exact text form.
type ConflictView struct {
	CIs       [2]string `json:"cis"`
	Class     string    `json:"class"`
	Source    string    `json:"source"`
	FirstSeen string    `json:"first_seen"`
	LastSeen  string    `json:"last_seen"`
	Count     int       `json:"count"`
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func valueOf(t testing.TB, v any) Value {
	t.Helper()
	switch x := v.(type) {
	case nil:
		return Value{}
	case string:
		return Value{T: "string", S: x}
	case int64:
		return Value{T: "int", S: strconv.FormatInt(x, 10)}
	case float64:
		return Value{T: "float", S: strconv.FormatFloat(x, 'g', -1, 64)}
	case bool:
		return Value{T: "bool", S: strconv.FormatBool(x)}
	case time.Time:
		return Value{T: "time", S: timeText(x)}
	case []string:
		return Value{T: "list", L: append([]string{}, x...)}
	}
	t.Fatalf("value of unexpected type %T", v)
	return Value{}
}

func valuePtr(t testing.TB, v any) *Value {
	if v == nil {
		return nil
	}
	out := valueOf(t, v)
	return &out
}

func attrsView(t testing.TB, a store.Attributes) map[string]Value {
	out := make(map[string]Value, len(a))
	for k, v := range a {
		out[k] = valueOf(t, v)
	}
	return out
}

func ciView(t testing.TB, c store.CI) CIView {
	seen := map[string]string{}
	for s, at := range c.SeenBy {
		seen[s] = timeText(at)
	}
	return CIView{
		ID: string(c.ID), Class: c.Class, Attributes: attrsView(t, c.Attributes), Keys: append([]string{}, c.Keys...),
		Sources: maps.Clone(c.Sources), SeenBy: seen,
		CreatedAt: timeText(c.CreatedAt), UpdatedAt: timeText(c.UpdatedAt), LastSeenAt: timeText(c.LastSeenAt),
	}
}

func relView(t testing.TB, r store.Relationship) RelView {
	return RelView{
		ID: string(r.ID), Type: r.Type, Source: string(r.Source), Target: string(r.Target),
		Attributes: attrsView(t, r.Attributes), CreatedAt: timeText(r.CreatedAt), UpdatedAt: timeText(r.UpdatedAt),
	}
}

func tokenView(tk store.APIToken) TokenView {
	return TokenView{
		ID: tk.ID, Name: tk.Name, Role: tk.Role, Hash: fmt.Sprintf("%x", tk.Hash),
		CreatedAt: timeText(tk.CreatedAt), CreatedBy: tk.CreatedBy, ExpiresAt: timeText(tk.ExpiresAt),
		RevokedAt: timeText(tk.RevokedAt), Sources: append([]string{}, tk.Sources...),
	}
}

func auditView(t testing.TB, r store.AuditRecord) AuditView {
	ch := make([]ChangeView, len(r.Changes))
	for i, c := range r.Changes {
		ch[i] = ChangeView{Field: c.Field, Before: valuePtr(t, c.Before), After: valuePtr(t, c.After)}
	}
	return AuditView{
		ID: string(r.ID), Time: timeText(r.Time), Actor: r.Actor.Name, Source: r.Actor.Source, Kind: string(r.Kind),
		Object: r.Object, Action: string(r.Action), Changes: ch, Related: append([]string{}, r.Related...),
	}
}

func conflictView(c store.IdentityConflict) ConflictView {
	return ConflictView{
		CIs: [2]string{string(c.CIs[0]), string(c.CIs[1])}, Class: c.Class, Source: c.Source,
		FirstSeen: timeText(c.FirstSeen), LastSeen: timeText(c.LastSeen), Count: c.Count,
	}
}

// readState reads everything a store holds through the store API, in a
// stable order: CIs, relationships and conflicts by ID, tokens oldest
// first, audit records newest first, extensions oldest first.
func readState(t *testing.T, st store.Store) ReleaseManifest {
	t.Helper()
	ctx := t.Context()
	var m ReleaseManifest
	var ids []store.ID
	for after := ""; ; {
		p, err := st.ListNodes(ctx, store.NodeFilter{Kind: store.KindCI}, store.PageRequest{First: store.MaxPageSize, After: after})
		require.NoError(t, err)
		for _, c := range p.Items {
			m.CIs = append(m.CIs, ciView(t, c))
			ids = append(ids, c.ID)
		}
		if !p.HasNext {
			break
		}
		after = p.EndCursor
	}
	if len(ids) > 0 {
		out, err := st.RelationshipsOf(ctx, ids, store.Out, nil)
		require.NoError(t, err)
		for _, id := range ids {
			for _, r := range out[id] {
				m.Relationships = append(m.Relationships, relView(t, r))
			}
		}
		slices.SortFunc(m.Relationships, func(a, b RelView) int { return cmpString(a.ID, b.ID) })
	}
	tokens, err := st.Tokens(ctx)
	require.NoError(t, err)
	for _, tk := range tokens {
		m.Tokens = append(m.Tokens, tokenView(tk))
	}
	for after := ""; ; {
		p, err := st.Audit(ctx, store.AuditFilter{}, store.PageRequest{First: store.MaxPageSize, After: after})
		require.NoError(t, err)
		for _, r := range p.Items {
			m.Audit = append(m.Audit, auditView(t, r))
		}
		if !p.HasNext {
			break
		}
		after = p.EndCursor
	}
	exts, err := st.ModelExtensions(ctx)
	require.NoError(t, err)
	for _, e := range exts {
		m.Extensions = append(m.Extensions, ExtensionView{Kind: string(e.Kind), Name: e.Name, Definition: string(e.Definition), CreatedAt: timeText(e.CreatedAt)})
	}
	for after := ""; ; {
		p, err := st.Conflicts(ctx, store.PageRequest{First: store.MaxPageSize, After: after})
		require.NoError(t, err)
		for _, c := range p.Items {
			m.Conflicts = append(m.Conflicts, conflictView(c))
		}
		if !p.HasNext {
			break
		}
		after = p.EndCursor
	}
	// Both sides of a comparison go through JSON, so that nil and empty
	// lists and maps compare as the manifest file holds them.
	data, err := json.Marshal(m)
	require.NoError(t, err)
	var out ReleaseManifest
	require.NoError(t, json.Unmarshal(data, &out))
	return out
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// WriteReleaseManifest writes m to path as JSON with one list item per
// line, which diffs well and stays small.
func WriteReleaseManifest(path string, m *ReleaseManifest) error {
	var whole map[string]json.RawMessage
	data, err := json.Marshal(m)
	if err == nil {
		err = json.Unmarshal(data, &whole)
	}
	if err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("{\n")
	for i, k := range slices.Sorted(maps.Keys(whole)) {
		fmt.Fprintf(&b, "%q: ", k)
		var items []json.RawMessage
		if json.Unmarshal(whole[k], &items) == nil && len(items) > 0 {
			b.WriteString("[\n")
			for j, it := range items {
				b.Write(it)
				if j < len(items)-1 {
					b.WriteString(",")
				}
				b.WriteString("\n")
			}
			b.WriteString("]")
		} else {
			b.Write(whole[k])
		}
		if i < len(whole)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("}\n")
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// ReadReleaseManifest reads a manifest written by WriteReleaseManifest.
func ReadReleaseManifest(path string) (*ReleaseManifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m ReleaseManifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &m, nil
}

// ReleaseFixtureCommit is the commit whose code wrote the previous-release
// fixture.
const ReleaseFixtureCommit = "934574d7c3c9e82c59c9a9dd09b16bdfdef417ce"

// RequireReleaseCode fails the test unless the code that writes data
// (everything under internal/ but this fixture's own code) is the code of
// ReleaseFixtureCommit: the fixture may only be rebuilt by the release it
// stands for, never by a later one, whose data it would then no longer be.
func RequireReleaseCode(t *testing.T) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "git", "diff", "--quiet", ReleaseFixtureCommit, "--",
		"../../", ":(exclude)../../store/storetest/release*.go", ":(exclude)../../store/*/release_test.go",
		":(exclude)../../store/storetest/testdata/release-2026-12")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the code under internal/ differs from %s, the release the fixture stands for (git diff: %v %s): "+
			"rebuild it only on a checkout of that commit (see %s/README.md)", ReleaseFixtureCommit, err, out, ReleaseFixtureDir)
	}
}
