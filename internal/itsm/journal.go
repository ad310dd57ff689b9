package itsm

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

// The journal of a record: each work note or comment is a node of kind
// journal, written once, linked to its record by NOTE_ON. A note is an
// entry of its own (not the latest value of a field whose history is the
// journal, as ServiceNow stores them) so that two identical notes are two
// entries, each with its author and time, and reading a journal is one
// page of entries rather than a walk through the audit trail.
const (
	// KindJournal is the kind of journal entries (class JournalEntry).
	KindJournal = "journal"
	// RelNoteOn links a journal entry to its record.
	RelNoteOn = "NOTE_ON"
	// NoteWorkNote is a note for the people working the record.
	NoteWorkNote = "work_note"
	// NoteComment is a note the caller sees too.
	NoteComment = "comment"
)

// AddNote writes a work note or a comment (noteType) on the record id of
// kind recordKind. The caller needs create journal and read of the
// record's kind; a record that does not exist is not-found naming "id";
// blank text is INVALID naming "attributes.text".
func (s *Service) AddNote(ctx context.Context, actor store.Actor, recordKind string, id store.ID, noteType, text string) (store.Node, error) {
	if err := auth.Check(ctx, KindJournal, auth.Create); err != nil {
		return store.Node{}, err
	}
	if strings.TrimSpace(text) == "" {
		return store.Node{}, store.Invalid("attributes.text", "must not be blank")
	}
	found, err := s.cmdb.Nodes(ctx, recordKind, []store.ID{id})
	if err != nil {
		return store.Node{}, err
	}
	rec, ok := found[id]
	if !ok {
		return store.Node{}, store.NoNode("id", store.ObjectKind(recordKind))
	}
	writer, err := auth.WriteActor(ctx, actor)
	if err != nil {
		return store.Node{}, err
	}
	return s.addNote(ctx, writer, rec, noteType, text)
}

// addNote writes a note on record rec as writer (whose permission the
// caller checked).
func (s *Service) addNote(ctx context.Context, writer store.Actor, rec store.Node, noteType, text string) (store.Node, error) {
	entryID, number := uuid.NewString(), rec.Attributes["number"]
	res, err := s.cmdb.WriteNode(ctx, writer, KindJournal, cmdb.NodeWrite{
		Input: map[string]any{"type": noteType, "text": text}, Verb: auth.Create,
		Decide: func(_ *store.Node, input store.Attributes, _ time.Time) (store.Attributes, error) {
			out := store.Attributes{"entry_id": entryID, "author": writer.Name}
			if number != nil {
				out["record"] = number
			}
			for k, v := range input {
				out[k] = v
			}
			return out, nil
		},
	})
	if err != nil {
		return store.Node{}, err
	}
	if _, err := s.cmdb.SetLinks(ctx, writer, res.Node.ID, RelNoteOn, []store.ID{rec.ID}, string(rec.Kind), "id", false); err != nil {
		return res.Node, err
	}
	return res.Node, nil
}

// Journal returns a page of the journal of record id, newest first: every
// entry, or those of the given types.
func (s *Service) Journal(ctx context.Context, id store.ID, types []string, p store.PageRequest) (store.Page[store.Node], error) {
	if err := auth.Check(ctx, KindJournal, auth.Read); err != nil {
		return store.Page[store.Node]{}, err
	}
	var where *store.Expr
	if len(types) > 0 {
		vals := make([]any, len(types))
		for i, t := range types {
			vals[i] = t
		}
		where = &store.Expr{Op: store.OpIn, Field: "type", Values: vals}
	}
	return s.linkedFrom(ctx, id, RelNoteOn, KindJournal, where, p)
}

// linkedFrom returns a page of the nodes of kind with a relationship of
// type typ to id, matching where (nil: all), newest first.
func (s *Service) linkedFrom(ctx context.Context, id store.ID, typ, kind string, where *store.Expr, p store.PageRequest) (store.Page[store.Node], error) {
	return s.linkedFromSorted(ctx, id, typ, kind, where, store.Sort{Field: store.FieldCreatedAt, Desc: true}, p)
}

// linkedFromSorted is linkedFrom in the order sort says.
func (s *Service) linkedFromSorted(ctx context.Context, id store.ID, typ, kind string, where *store.Expr, sort store.Sort, p store.PageRequest) (store.Page[store.Node], error) {
	if err := auth.Check(ctx, auth.KindRelationship, auth.Read); err != nil {
		return store.Page[store.Node]{}, err
	}
	rels, err := s.st.RelationshipsOf(ctx, []store.ID{id}, store.In, []string{typ})
	if err != nil {
		return store.Page[store.Node]{}, err
	}
	if len(rels[id]) == 0 {
		return store.Page[store.Node]{Items: []store.Node{}}, nil
	}
	ids := make([]store.ID, len(rels[id]))
	for i, r := range rels[id] {
		ids[i] = r.Source
	}
	if len(ids) > s.idChunk() {
		return s.linkedFromMany(ctx, ids, kind, where, sort, p)
	}
	f := cmdb.Filter{IDs: ids, Sort: sort, Where: where}
	page, err := s.cmdb.ListNodes(ctx, kind, f, p)
	if err != nil {
		return page, err
	}
	page.Cursors = store.SortCursors(f.Sort, page.Items)
	return page, nil
}

// linkedFromMany is linkedFromSorted for more linked nodes than one
// filter takes (store.MaxBatch IDs): it asks for the page in each chunk of
// IDs, with the same cursor, and merges them in sort's order (sort by
// creation time, then ID, as the backends order them). The page it
// returns is the one a single query would: every chunk gives its first
// items after the cursor, and the page's items are the first of those.
func (s *Service) linkedFromMany(ctx context.Context, ids []store.ID, kind string, where *store.Expr, sort store.Sort, p store.PageRequest) (store.Page[store.Node], error) {
	if sort.Field != store.FieldCreatedAt {
		return store.Page[store.Node]{}, fmt.Errorf("itsm: merging pages sorted by %q is not supported", sort.Field)
	}
	if p.Offset != 0 {
		return store.Page[store.Node]{}, store.Invalid("offset", "not with more than %d linked records; page with after", store.MaxBatch)
	}
	first := p.First
	if first == 0 {
		first = 100
	}
	var out store.Page[store.Node]
	chunk := s.idChunk()
	for lo := 0; lo < len(ids); lo += chunk {
		f := cmdb.Filter{IDs: ids[lo:min(lo+chunk, len(ids))], Sort: sort, Where: where}
		page, err := s.cmdb.ListNodes(ctx, kind, f, store.PageRequest{First: first, After: p.After})
		if err != nil {
			return out, err
		}
		out.Total += page.Total
		out.HasNext = out.HasNext || page.HasNext
		out.Items = append(out.Items, page.Items...)
	}
	slices.SortFunc(out.Items, func(a, b store.Node) int {
		c := a.CreatedAt.Compare(b.CreatedAt)
		if c == 0 {
			c = strings.Compare(string(a.ID), string(b.ID))
		}
		if sort.Desc {
			return -c
		}
		return c
	})
	if len(out.Items) > first {
		out.Items, out.HasNext = out.Items[:first], true
	}
	out.Cursors = store.SortCursors(sort, out.Items)
	if n := len(out.Cursors); n > 0 {
		out.EndCursor = out.Cursors[n-1]
	}
	return out, nil
}

// idChunk is how many IDs one filter of linkedFromSorted takes
// (store.MaxBatch; tests lower it).
func (s *Service) idChunk() int {
	if s.chunk > 0 {
		return s.chunk
	}
	return store.MaxBatch
}
