package auth

import (
	"fmt"
	"strings"
)

// Role names what a token may do. Roles are not strictly nested: agent
// may write discovery data but read nothing beyond the class model.
type Role string

// Roles.
const (
	// Viewer reads the configuration graph, impact analysis and audit
	// trail.
	Viewer Role = "viewer"
	// Agent is for discovery: it upserts CIs and relationships, and reads
	// the class model only.
	Agent Role = "agent"
	// Monitor is for monitoring systems (Prometheus Alertmanager): it posts
	// alerts, which open and resolve incidents, and nothing else.
	Monitor Role = "monitor"
	// Engineer reads, and edits and deletes CIs and relationships (and,
	// later, records).
	Engineer Role = "engineer"
	// ChangeManager is an engineer who also takes change advisory board
	// decisions.
	ChangeManager Role = "change_manager"
	// Admin may do everything: tokens and the class model too.
	Admin Role = "admin"
	// Anonymous is the role of a request without a token. It is never a
	// token's role.
	Anonymous Role = "anonymous"
)

// TokenRoles are the roles a token may have, least to most powerful.
var TokenRoles = []Role{Viewer, Agent, Monitor, Engineer, ChangeManager, Admin}

// ParseRole returns the token role named s (case-insensitive), or an error
// listing the valid ones.
func ParseRole(s string) (Role, error) {
	for _, r := range TokenRoles {
		if strings.EqualFold(s, string(r)) {
			return r, nil
		}
	}
	names := make([]string, len(TokenRoles))
	for i, r := range TokenRoles {
		names[i] = string(r)
	}
	return "", fmt.Errorf("unknown role %q: valid roles are %s", s, strings.Join(names, ", "))
}
