package embedded

import (
	"database/sql/driver"
	"sync"

	"modernc.org/sqlite"

	"github.com/skein-cmdb/skein/internal/store"
)

// foldFunc is the SQL name of store.FoldText. The indexes of migration 4 → 5
// are built on it, so that filters ignoring case stay index lookups; the
// name carries a version because those indexes hold its results: a new
// folding needs a new name and a migration that rebuilds them.
const foldFunc = "skein_fold1"

var registerFold = sync.OnceValue(func() error {
	return sqlite.RegisterDeterministicScalarFunction(foldFunc, 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		switch v := args[0].(type) {
		case string:
			return store.FoldText(v), nil
		case []byte:
			return store.FoldText(string(v)), nil
		}
		return args[0], nil // NULL, numbers: as they are
	})
})

// searchFunc is the SQL name of store.SearchDocument over an encoded
// attribute object (the cis.attrs column). The ci_search table holds its
// results (migration 7 → 8 and the triggers that keep it in step), so the
// name carries a version like foldFunc's.
const searchFunc = "skein_search1"

var registerSearch = sync.OnceValue(func() error {
	return sqlite.RegisterDeterministicScalarFunction(searchFunc, 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		var b []byte
		switch v := args[0].(type) {
		case string:
			b = []byte(v)
		case []byte:
			b = v
		default:
			return "", nil
		}
		// A row whose attributes do not decode (written by hand) gets no
		// document rather than failing its write; reading it reports it.
		doc, err := searchDocument(b)
		if err != nil {
			return "", nil
		}
		return doc, nil
	})
})

// searchDocument is store.SearchDocument of encoded attributes (see
// store.SearchDocumentOf): it runs in a trigger on every write of a CI.
func searchDocument(b []byte) (string, error) { return store.SearchDocumentOf(b) }
