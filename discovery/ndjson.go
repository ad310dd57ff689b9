package discovery

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// WriteNDJSON writes the batches as newline-delimited JSON, one batch a
// line, the form an agent streams to the server.
func WriteNDJSON(w io.Writer, batches []Batch) error {
	enc := json.NewEncoder(w)
	for i, b := range batches {
		if err := enc.Encode(b); err != nil {
			return fmt.Errorf("write batch %d: %w", i, err)
		}
	}
	return nil
}

// ReadNDJSON reads batches written by WriteNDJSON. Numbers come back as
// int64 when whole and float64 otherwise, as sources produce them.
func ReadNDJSON(r io.Reader) ([]Batch, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	var out []Batch
	for {
		var b Batch
		err := dec.Decode(&b)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("read batch %d: %w", len(out), err)
		}
		for i := range b.CIs {
			b.CIs[i].Attributes = FromJSON(b.CIs[i].Attributes)
		}
		for i := range b.Relationships {
			b.Relationships[i].From.Identity = FromJSON(b.Relationships[i].From.Identity)
			b.Relationships[i].To.Identity = FromJSON(b.Relationships[i].To.Identity)
		}
		out = append(out, b)
	}
}

// FromJSON turns the values of attributes decoded from JSON with
// UseNumber back into the types Validate accepts (and a server reads):
// whole numbers as int64, others as float64, lists of strings as
// []string. It changes attrs in place and returns it.
func FromJSON(attrs map[string]any) map[string]any {
	if attrs == nil {
		return nil
	}
	for k, v := range attrs {
		switch x := v.(type) {
		case json.Number:
			if n, err := x.Int64(); err == nil {
				attrs[k] = n
			} else if f, err := x.Float64(); err == nil {
				attrs[k] = f
			}
		case []any:
			list := make([]string, 0, len(x))
			for _, e := range x {
				s, ok := e.(string)
				if !ok {
					list = nil
					break
				}
				list = append(list, s)
			}
			if list != nil {
				attrs[k] = list
			}
		}
	}
	return attrs
}
