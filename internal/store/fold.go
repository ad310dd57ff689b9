package store

import "strings"

// FoldText is how text filters ignore case (see NodeFilter.CaseSensitive):
// Unicode lower case. Backends compare FoldText of the stored value with
// FoldText of the filter's, and keep folded copies or indexes of the
// values they look up by (names, owners, support groups, tags), so a
// lookup that ignores case stays an index lookup. Changing it changes
// what stored folded values mean: backends must rebuild them.
func FoldText(s string) string { return strings.ToLower(s) }
