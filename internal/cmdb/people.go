package cmdb

import (
	"context"
	"fmt"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/store"
)

// Group membership and management: MEMBER_OF_GROUP (person -> group) and
// MANAGED_BY (group -> person) relationships, kept through the group (the
// verb is update group), written with their audit records like every
// relationship.

// Relationship types between people and groups, and from CIs to them.
const (
	RelMemberOfGroup = "MEMBER_OF_GROUP"
	RelManagedBy     = "MANAGED_BY"
	RelOwnedBy       = "OWNED_BY"
	RelSupportedBy   = "SUPPORTED_BY"
)

// checkGroupAndPeople checks that group is a group and every id of people
// a person: an *InvalidError or a not-found error naming "groupId" or
// "personIds[i]".
func (s *Service) checkGroupAndPeople(ctx context.Context, group store.ID, people []store.ID) error {
	ids := append([]store.ID{group}, people...)
	found, err := s.st.Nodes(ctx, store.AnyKind, ids)
	if err != nil {
		return err
	}
	if n, ok := found[group]; !ok || n.Kind != KindGroup {
		return store.NoNode("groupId", KindGroup)
	}
	for i, p := range people {
		if n, ok := found[p]; !ok || n.Kind != KindPerson {
			return store.NoNode(fmt.Sprintf("personIds[%d]", i), KindPerson)
		}
	}
	return nil
}

// membership checks a change of group's members: the caller may update
// groups, 1 to store.MaxBatch people, each a person; it returns the actor.
func (s *Service) membership(ctx context.Context, actor store.Actor, group store.ID, people []store.ID) (store.Actor, error) {
	actor, err := batchWriter(ctx, actor, auth.KindGroup, auth.Update, "personIds", len(people))
	if err != nil {
		return actor, err
	}
	return actor, s.checkGroupAndPeople(ctx, group, people)
}

// AddGroupMembers makes people members of group: one MEMBER_OF_GROUP
// relationship each, created unless it exists (idempotent). It returns how
// many were created. A group or person that does not exist is a not-found
// error naming "groupId" or "personIds[i]"; nothing is written then.
func (s *Service) AddGroupMembers(ctx context.Context, actor store.Actor, group store.ID, people []store.ID) (int, error) {
	actor, err := s.membership(ctx, actor, group, people)
	if err != nil {
		return 0, err
	}
	rels := make([]store.RelationshipInput, len(people))
	for i, p := range people {
		rels[i] = store.RelationshipInput{Type: RelMemberOfGroup, Source: p, Target: group}
	}
	res, err := s.st.CreateRelationships(ctx, actor, rels, true)
	if err != nil {
		return 0, err
	}
	return countStatus(res, store.StatusCreated), nil
}

// RemoveGroupMembers removes people from group (their MEMBER_OF_GROUP
// relationships); people who are not members are ignored. It returns how
// many memberships it removed.
func (s *Service) RemoveGroupMembers(ctx context.Context, actor store.Actor, group store.ID, people []store.ID) (int, error) {
	actor, err := s.membership(ctx, actor, group, people)
	if err != nil {
		return 0, err
	}
	ids := make([]store.ID, len(people))
	for i, p := range people {
		ids[i] = store.RelationshipKey{Type: RelMemberOfGroup, Source: p, Target: group}.ID()
	}
	res, err := s.st.DeleteRelationships(ctx, actor, ids)
	if err != nil {
		return 0, err
	}
	return countStatus(res, store.StatusDeleted), nil
}

// SetGroupManager makes person the manager of group (its one MANAGED_BY
// relationship), or clears the manager when person is "". A manager set
// before is replaced; setting the same one again changes nothing.
func (s *Service) SetGroupManager(ctx context.Context, actor store.Actor, group, person store.ID) error {
	var people []store.ID
	if person != "" {
		people = []store.ID{person}
	}
	actor, err := batchWriter(ctx, actor, auth.KindGroup, auth.Update, "personIds", 1)
	if err != nil {
		return err
	}
	if err := s.checkGroupAndPeople(ctx, group, people); err != nil {
		if f, ok := store.FieldOf(err); ok && f == "personIds[0]" {
			return store.WithField(err, "personId")
		}
		return err
	}
	cur, err := s.st.RelationshipsOf(ctx, []store.ID{group}, store.Out, []string{RelManagedBy})
	if err != nil {
		return err
	}
	var stale []store.ID
	for _, r := range cur[group] {
		if r.Target != person {
			stale = append(stale, r.ID)
		}
	}
	if len(stale) > 0 {
		if _, err := s.st.DeleteRelationships(ctx, actor, stale); err != nil {
			return err
		}
	}
	if person == "" {
		return nil
	}
	_, err = s.st.CreateRelationships(ctx, actor, []store.RelationshipInput{{Type: RelManagedBy, Source: group, Target: person}}, true)
	return err
}

func countStatus(res []store.RelationshipResult, st store.Status) int {
	n := 0
	for _, r := range res {
		if r.Status == st {
			n++
		}
	}
	return n
}
