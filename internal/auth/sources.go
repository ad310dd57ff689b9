package auth

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/skein-cmdb/skein/internal/store"
)

// ReservedSources are the data sources Skein's own channels write as:
// people through the API ("api", which outranks discovery), `skein import`,
// the demo estate, the command line, and the OWNED_BY / SUPPORTED_BY edges
// Skein keeps from CIs' owner and support_group attributes
// ("attribute_link", cmdb.LinkSource: an edge reported by that source only
// is one the attribute rule may move or remove). No agent token may be
// bound to or report as one of them, in any spelling, and other tokens may
// use them only as spelled here.
var ReservedSources = []string{"api", "import", "demo", "cli", LinkSource}

// LinkSource is the source of the edges Skein keeps from CIs' owner and
// support_group attributes (see cmdb.LinkSource, which is this name).
const LinkSource = "attribute_link"

// AgentDefaultSource is the only source of an agent token bound to none
// (tokens made before tokens were bound, or without --source).
const AgentDefaultSource = "agent"

// reserved returns the reserved source s spells in any case, or "".
func reserved(s string) string {
	for _, r := range ReservedSources {
		if strings.EqualFold(s, r) {
			return r
		}
	}
	return ""
}

// CheckTokenSources validates the discovery sources a new token is bound
// to (fields "sources" and "sources[i]"): only agent tokens are bound, and
// never to a reserved source. The shape of each name is checked by
// store.APIToken.Check.
func CheckTokenSources(role Role, sources []string) error {
	if len(sources) == 0 {
		return nil
	}
	if role != Agent {
		return store.Invalid("sources", "only agent tokens are bound to discovery sources; a %s token writes as %q", role, "api")
	}
	for i, s := range sources {
		if r := reserved(s); r != "" {
			return store.Invalid(fmt.Sprintf("sources[%d]", i), "%q is reserved for Skein's own channels (%s); name the discovery tool, e.g. nmap",
				s, strings.Join(ReservedSources, ", "))
		}
	}
	return nil
}

// AgentSources returns the sources the identity may write as, for an agent
// (its bound sources, or AgentDefaultSource), and nil for other roles,
// which may name any source.
func (i Identity) AgentSources() []string {
	if i.Role != Agent {
		return nil
	}
	if len(i.Sources) == 0 {
		return []string{AgentDefaultSource}
	}
	return i.Sources
}

// WriteSource returns the data source a write by i reports as, given the
// source the request names ("" for none), or an *store.InvalidError on
// "source". An agent writes as one of its bound sources (the first when
// the request names none); others write as "api" unless they name another
// source, which may not be a reserved one spelled differently.
func (i Identity) WriteSource(requested string) (string, error) {
	if requested != "" {
		if err := store.CheckSourceName("source", requested); err != nil {
			return "", err
		}
	}
	if allowed := i.AgentSources(); allowed != nil {
		switch {
		case requested == "":
			return allowed[0], nil
		case slices.Contains(allowed, requested):
			return requested, nil
		}
		return "", store.Invalid("source", "this agent token may report as %s only (set when the token was made); %q is not one of them",
			strings.Join(allowed, ", "), requested)
	}
	if requested == "" {
		return "api", nil
	}
	if r := reserved(requested); r != "" && r != requested {
		return "", store.Invalid("source", "%q is the reserved source %q spelled differently; write it %q", requested, r, r)
	}
	return requested, nil
}

// WriteActor returns who a write is recorded as. For a request (ctx
// carries an identity), it is the caller's identity as the audit trail
// names it (Identity.Actor), writing as the data source its token allows
// given actor.Source, the source the request names ("" for none; see
// WriteSource, whose *store.InvalidError names "source"). For the process
// itself (a command-line tool, the demo loader, a test), it is actor as
// given. Services call it, so that the rules binding a token to its
// sources hold for every API.
func WriteActor(ctx context.Context, actor store.Actor) (store.Actor, error) {
	id, ok := Caller(ctx)
	if !ok {
		return actor, nil
	}
	a := id.Actor()
	src, err := id.WriteSource(actor.Source)
	if err != nil {
		return a, err
	}
	a.Source = src
	return a, nil
}
