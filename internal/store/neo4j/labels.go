package neo4j

import (
	"strings"

	"github.com/skein-cmdb/skein/internal/store"
)

// Every node of the graph has the label :Node and the label of its kind:
// :CI for CIs, the kind's name in CamelCase for the others (person ->
// :Person, change_request -> :ChangeRequest). A query about one kind is
// anchored on its label, which Neo4j's token lookup index answers (and
// counts from its count store) without reading nodes of other kinds: a
// list of people on a graph of a million CIs reads the people only. The
// kind is also kept in the property _kind, which the node's decoding
// reads.

// storeLabels are the labels of the store's own nodes, which no kind may
// take: a kind whose CamelCase name is one of them is prefixed with Kind
// (a kind "identity_key" is :KindIdentityKey).
var storeLabels = map[string]bool{
	"Node": true, "CI": true, "IdentityKey": true, "AuditRecord": true, "ModelExtension": true,
	"APIToken": true, "IdentityConflict": true, "SkeinMigration": true,
}

// labelExpr returns the label of nodes of kind quoted for query text, after
// checking kind with store.ValidIdentifier: the one way a kind's label
// reaches a statement.
func labelExpr(kind store.ObjectKind) (string, error) {
	if !store.ValidIdentifier(string(kind)) {
		return "", store.Invalid("kind", "%q is not a kind name", clip(string(kind)))
	}
	return "`" + kindLabel(kind) + "`", nil
}

// kindLabel returns the label of nodes of kind (unquoted; labelExpr checks
// and quotes it for query text).
func kindLabel(kind store.ObjectKind) string {
	if kind == store.KindCI {
		return "CI"
	}
	var b strings.Builder
	up := true
	for _, r := range string(kind) {
		switch {
		case r == '_':
			up = true
		case up:
			b.WriteString(strings.ToUpper(string(r)))
			up = false
		default:
			b.WriteRune(r)
		}
	}
	l := b.String()
	if l == "" || storeLabels[l] {
		l = "Kind" + l
	}
	return l
}
