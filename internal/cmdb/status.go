package cmdb

// StatusLive is the status of a CI in service, the default of the status
// attribute.
const StatusLive = "live"

// Operational reports whether a CI's attributes say it is in service: its
// status is live or unset. Any other status (planned, maintenance,
// retired, or one a model extension adds) is not operational, and impact
// analysis counts such a CI as already unavailable when it evaluates
// redundancy.
func Operational(attrs map[string]any) bool { return OperationalStatus(attrs["status"]) }

// OperationalStatus is Operational for a CI whose status attribute is
// status (nil when unset).
func OperationalStatus(status any) bool {
	s, ok := status.(string)
	return !ok || s == "" || s == StatusLive
}
