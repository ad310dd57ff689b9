package store

// Summary is a node as a reader of many nodes keeps it: its identity and
// its SummaryAttributes as fields, not a map. An impact analysis keeps one
// for every CI it reaches (tens of thousands from a hub); a map for each
// was most of what building its answer cost (ADR 30).
type Summary struct {
	ID      ID
	Kind    ObjectKind
	Class   string
	Version int64
	// Name is the name attribute when it is a string; "" otherwise.
	Name string
	// Values holds the value of SummaryAttributes[i+1] (the attributes
	// after name) at i; nil where the node has none.
	Values [len(summaryAttributes) - 1]any
}

// SummaryOf returns the summary of n, read from its attributes (all of
// them, or the SummaryAttributes a NodeFields call answered).
func SummaryOf(n Node) Summary {
	s := Summary{ID: n.ID, Kind: n.Kind, Class: n.Class, Version: n.Version}
	s.Name, _ = n.Attributes["name"].(string)
	for i, a := range summaryAttributes[1:] {
		s.Values[i] = n.Attributes[a]
	}
	return s
}

// Attr returns the value of the summary attribute name; nil when the node
// has none, or name is not one of SummaryAttributes.
func (s *Summary) Attr(name string) any {
	if name == "name" {
		if s.Name == "" {
			return nil
		}
		return s.Name
	}
	if i := SummaryIndex(name); i >= 0 {
		return s.Values[i]
	}
	return nil
}

// Text returns the summary attribute name when it is a string; "" when it
// is unset or not a string.
func (s *Summary) Text(name string) string {
	if name == "name" {
		return s.Name
	}
	t, _ := s.Attr(name).(string)
	return t
}

// SummaryIndex returns the place of the summary attribute name in
// Summary.Values; -1 for "name" (Summary.Name) and for an attribute that
// is not a summary attribute.
func SummaryIndex(name string) int {
	for i, a := range summaryAttributes[1:] {
		if a == name {
			return i
		}
	}
	return -1
}
