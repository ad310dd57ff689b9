package itsm

import (
	"fmt"
)

// Matrix maps impact and urgency (1 high .. 3 low) to a priority (1
// critical .. 5 planning): Matrix[impact-1][urgency-1].
type Matrix [3][3]int

// DefaultMatrix is ITIL's usual matrix, ServiceNow's default:
//
//	             urgency 1  2  3
//	impact 1 (high)      1  2  3
//	impact 2 (medium)    2  3  4
//	impact 3 (low)       3  4  5
var DefaultMatrix = Matrix{{1, 2, 3}, {2, 3, 4}, {3, 4, 5}}

// Priority returns the priority of impact and urgency, each 1..3.
func (m Matrix) Priority(impact, urgency int64) (int64, error) {
	if impact < 1 || impact > 3 || urgency < 1 || urgency > 3 {
		return 0, fmt.Errorf("impact %d and urgency %d: both must be 1 to 3", impact, urgency)
	}
	return int64(m[impact-1][urgency-1]), nil
}

// Check validates a configured matrix: every priority 1..5, and never a
// higher priority (smaller number) for a lower impact or urgency.
func (m Matrix) Check() error {
	for i := range 3 {
		for u := range 3 {
			p := m[i][u]
			if p < 1 || p > 5 {
				return fmt.Errorf("priority matrix: impact %d, urgency %d: %d is not a priority 1..5", i+1, u+1, p)
			}
			if i > 0 && p < m[i-1][u] || u > 0 && p < m[i][u-1] {
				return fmt.Errorf("priority matrix: impact %d, urgency %d: priority %d is higher than that of a higher impact or urgency", i+1, u+1, p)
			}
		}
	}
	return nil
}

// PriorityLabels are the names of priorities 1..5.
var PriorityLabels = [5]string{"Critical", "High", "Moderate", "Low", "Planning"}
