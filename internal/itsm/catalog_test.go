package itsm

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/store"
)

func i64(n int64) *int64 { return &n }

func TestCheckVariables(t *testing.T) {
	cases := []struct {
		name  string
		vs    []Variable
		field string
	}{
		{"valid", []Variable{{Name: "model", Type: "choice", Choices: []string{"14-inch", "16-inch"}}, {Name: "days", Type: "int", Min: i64(1), Max: i64(30)}}, ""},
		{"a name that is not one", []Variable{{Name: "2fa", Type: "bool"}}, "variables[0].name"},
		{"asked twice, ignoring case", []Variable{{Name: "os", Type: "string"}, {Name: "OS", Type: "string"}}, "variables[1].name"},
		{"unknown type", []Variable{{Name: "x", Type: "colour"}}, "variables[0].type"},
		{"a choice without choices", []Variable{{Name: "x", Type: "choice"}}, "variables[0].choices"},
		{"choices of a string", []Variable{{Name: "x", Type: "string", Choices: []string{"a"}}}, "variables[0].choices"},
		{"bounds of a bool", []Variable{{Name: "x", Type: "bool", Min: i64(1)}}, "variables[0].min"},
		{"max below min", []Variable{{Name: "x", Type: "int", Min: i64(5), Max: i64(1)}}, "variables[0].max"},
		{"a length too long", []Variable{{Name: "x", Type: "text", MaxLength: 20000}}, "variables[0].maxLength"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := checkVariables(c.vs)
			if c.field == "" {
				assert.NoError(t, err)
				return
			}
			f, _ := store.FieldOf(err)
			assert.Equal(t, c.field, f, "%v", err)
		})
	}
	many := make([]Variable, MaxVariables+1)
	for i := range many {
		many[i] = Variable{Name: "q" + string(rune('a'+i%26)) + string(rune('a'+i/26)), Type: "bool"}
	}
	f, _ := store.FieldOf(checkVariables(many))
	assert.Equal(t, "variables", f)
}

func TestCheckAnswers(t *testing.T) {
	vs := []Variable{
		{Name: "size", Label: "Screen size", Type: "choice", Choices: []string{"14-inch", "16-inch"}, Required: true},
		{Name: "days", Type: "int", Min: i64(1), Max: i64(30)},
		{Name: "start", Type: "date"},
		{Name: "why", Type: "text", MaxLength: 10},
		{Name: "docking", Type: "bool"},
	}
	_, err := CheckAnswers(vs, map[string]any{"size": "16-inch", "days": 14.0, "start": "2027-01-04", "why": "new hire", "docking": true, "unused": nil})
	require.Error(t, err, "unused is not a question")
	f, _ := store.FieldOf(err)
	assert.Equal(t, "variables.unused", f)
	got, err := CheckAnswers(vs, map[string]any{"size": "16-inch", "days": 14.0, "start": "2027-01-04", "why": "new hire", "docking": true})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"size": "16-inch", "days": int64(14), "start": time.Date(2027, 1, 4, 0, 0, 0, 0, time.UTC), "why": "new hire", "docking": true}, got)
	cases := []struct {
		name    string
		answers map[string]any
		field   string
	}{
		{"a required question unanswered", map[string]any{"days": 3}, "variables.size"},
		{"blank is unanswered", map[string]any{"size": ""}, "variables.size"},
		{"not one of the choices", map[string]any{"size": "13-inch"}, "variables.size"},
		{"out of range", map[string]any{"size": "14-inch", "days": 31}, "variables.days"},
		{"not whole", map[string]any{"size": "14-inch", "days": 1.5}, "variables.days"},
		{"not a date", map[string]any{"size": "14-inch", "start": "next monday"}, "variables.start"},
		{"too long", map[string]any{"size": "14-inch", "why": "because I need it"}, "variables.why"},
		{"not a bool", map[string]any{"size": "14-inch", "docking": "yes"}, "variables.docking"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := CheckAnswers(vs, c.answers)
			f, _ := store.FieldOf(err)
			assert.Equal(t, c.field, f, "%v", err)
		})
	}
}
