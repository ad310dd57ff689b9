package store

import (
	"encoding/json"
	"testing"
	"time"
)

// benchAttrs is a server as discovery reports it: fifteen attributes of
// every type.
var benchAttrs = Attributes{
	"name": "esx-fra1-03", "status": "live", "environment": "production", "owner": "Platform Team",
	"support_group": "Virtualisation", "serial_number": "CZ2345ABCD", "dns_domain": "fra1.example.com",
	"ip_address": "10.20.30.43", "cpu_count": int64(64), "memory_mb": int64(1048576), "criticality": int64(1),
	"load": 0.75, "virtual": false, "tags": []string{"esx", "fra1", "pci"},
	"installed_at": time.Date(2023, 5, 1, 8, 30, 0, 0, time.UTC),
}

// BenchmarkAttributeCodec sets this package's encoding of attributes
// (AppendAttributes, DecodeAttributes) beside encoding/json on the same
// map. encoding/json here writes a plainer format than the store needs
// (times as strings, floats without a point) and decodes numbers to
// float64, losing the integer/float and time types the store must give
// back; the std-decoder case is what keeping those types costs with
// encoding/json (UseNumber, then a walk): decodeAttributesStd.
func BenchmarkAttributeCodec(b *testing.B) {
	enc, err := AppendAttributes(nil, benchAttrs)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("encode/skein", func(b *testing.B) {
		buf := make([]byte, 0, 1024)
		for b.Loop() {
			if buf, err = AppendAttributes(buf[:0], benchAttrs); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encode/encoding-json", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal(map[string]any(benchAttrs)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode/skein", func(b *testing.B) {
		for b.Loop() {
			if _, err := DecodeAttributes(enc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode/encoding-json-typed", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeAttributesStd(enc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode/encoding-json-untyped", func(b *testing.B) {
		for b.Loop() {
			var m map[string]any
			if err := json.Unmarshal(enc, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkProvenanceCodec decodes the provenance of benchAttrs (every
// attribute set by one source, with its time) and a relationship's
// sightings (one source): what each CI and relationship read decodes. The
// provenance is read as stored ("*" for the shared entry) and, as a
// baseline, spelled out per attribute, as releases before "*" stored it.
func BenchmarkProvenanceCodec(b *testing.B) {
	src, at := map[string]string{}, map[string]time.Time{}
	now := time.Date(2026, 12, 3, 4, 5, 6, 789, time.UTC)
	for k := range benchAttrs {
		src[k], at[k] = "vmware-discovery", now
	}
	for name, prov := range map[string][]byte{
		"provenance":               AppendProvenance(nil, benchAttrs, src, at),
		"provenance-per-attribute": AppendProvenance(nil, nil, src, at),
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportMetric(float64(len(prov)), "bytes")
			for b.Loop() {
				if _, _, err := DecodeProvenance(prov, benchAttrs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	seen := AppendSeen(nil, map[string]time.Time{"vmware-discovery": now})
	b.Run("sightings", func(b *testing.B) {
		for b.Loop() {
			if _, err := DecodeSeen(seen); err != nil {
				b.Fatal(err)
			}
		}
	})
}
