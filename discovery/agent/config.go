package agent

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/spf13/viper"

	"github.com/skein-cmdb/skein/discovery/push"
	"github.com/skein-cmdb/skein/internal/auth"
)

// Defaults of the keys a configuration file may leave out.
const (
	// DefaultTimeout is how long one HTTP request may take (the pusher's).
	DefaultTimeout = push.DefaultTimeout
	// DefaultMaxRetryTime bounds the retries of one POST.
	DefaultMaxRetryTime = 2 * time.Minute
	// TokenEnv names the environment variable that holds the agent token;
	// it overrides the file's token and token_file.
	TokenEnv = "SKEIN_AGENT_TOKEN"
	// EnvPrefix is the prefix of the environment variables that override
	// the file's top-level keys: SKEIN_AGENT_SERVER, SKEIN_AGENT_INTERVAL...
	EnvPrefix = "SKEIN_AGENT"
)

// Source types, the values of a source's "type" key.
const (
	TypeAnsible        = "ansible"
	TypeNmap           = "nmap"
	TypeNmapScan       = "nmap_scan"
	TypeKubernetes     = "kubernetes"
	TypeKubernetesLive = "kubernetes_live"
	TypeHost           = "host"
)

// Config is skein-agent's configuration.
type Config struct {
	// Server is the base URL of the Skein server, e.g. https://skein.example.com.
	Server string
	// Token is the agent token sent as "Authorization: Bearer"; it never
	// prints (see Secret).
	Token Secret
	// Interval is the time between two runs; 0 runs once.
	Interval time.Duration
	// Timeout bounds one HTTP request.
	Timeout time.Duration
	// MaxRetryTime bounds the retries of one POST; 0 retries nothing.
	MaxRetryTime time.Duration
	// Sources are the discovery sources to run, in order.
	Sources []SourceConfig
}

// SourceConfig is one entry of "sources": a Type and the options of that
// type (sourceKeys lists which keys each type takes).
type SourceConfig struct {
	// Type is one of the Type constants.
	Type string
	// Name, when set, is the discovery source name the batches report as,
	// instead of the source's own ("nmap", "ansible"...): the name an agent
	// token is bound to, e.g. "nmap-dmz".
	Name string
	// ProposedClasses asks for the classes of discovery/model-proposal.yaml
	// (ansible, kubernetes, kubernetes_live, host).
	ProposedClasses bool

	// Dir is the fact tree of `ansible -m setup --tree DIR` (ansible).
	Dir string

	// Report is an `nmap -oX` report file (nmap).
	Report string
	// Targets are what nmap scans: addresses, names, CIDR ranges (nmap_scan).
	Targets []string
	// Ports is nmap's -p list, e.g. "22,80,443" (nmap_scan).
	Ports string
	// ServiceInfo runs nmap's version detection, -sV (nmap_scan).
	ServiceInfo bool
	// OSDetection runs nmap's OS detection, -O, which needs root (nmap_scan).
	OSDetection bool
	// NmapPath is the nmap binary, when not on PATH (nmap_scan).
	NmapPath string
	// Domain is the DNS domain of hosts whose names have none (nmap, nmap_scan).
	Domain string
	// MinOSAccuracy is the least accuracy (percent) of an OS match nmap's
	// mapping trusts; 0 means 90 (nmap, nmap_scan).
	MinOSAccuracy int

	// Cluster names the Kubernetes cluster (kubernetes, kubernetes_live).
	Cluster string
	// Paths are manifest files, directories (their *.yaml, *.yml and *.json
	// files) or glob patterns, expanded at each run (kubernetes).
	Paths []string
	// Namespace is the namespace of manifest objects that name none (kubernetes).
	Namespace string
	// ClusterDomain is the cluster's DNS domain (kubernetes, kubernetes_live).
	ClusterDomain string
	// Kubeconfig is the kubeconfig file; empty follows the usual rules
	// (KUBECONFIG, ~/.kube/config, in-cluster) (kubernetes_live).
	Kubeconfig string
	// Context is the kubeconfig context; empty is its current one (kubernetes_live).
	Context string
	// Namespaces limits a live cluster to these namespaces; empty reads all (kubernetes_live).
	Namespaces []string

	// FQDN overrides the machine's fully qualified name (host).
	FQDN string
}

// Secret is push.Secret (the agent's token is the pusher's): a value that
// formats as "[redacted]" whatever the verb.
type Secret = push.Secret

// FieldError is one problem with one configuration key.
type FieldError struct {
	// Key is the key's path, such as "sources[1].dir".
	Key string
	// Message says what is wrong; it never quotes the token.
	Message string
}

// Error returns "key: message".
func (e *FieldError) Error() string { return e.Key + ": " + e.Message }

// topKeys are the keys a configuration file may hold at its top level.
var topKeys = []string{"server", "token", "token_file", "interval", "timeout", "max_retry_time", "sources"}

// sourceKeys lists, per source type, the keys its entry may hold besides
// "type" and "name".
var sourceKeys = map[string][]string{
	TypeAnsible:        {"dir", "proposed_classes"},
	TypeNmap:           {"report", "domain", "min_os_accuracy"},
	TypeNmapScan:       {"targets", "ports", "service_info", "os_detection", "nmap_path", "domain", "min_os_accuracy"},
	TypeKubernetes:     {"cluster", "paths", "namespace", "cluster_domain", "proposed_classes"},
	TypeKubernetesLive: {"cluster", "kubeconfig", "context", "namespaces", "cluster_domain", "proposed_classes"},
	TypeHost:           {"fqdn", "proposed_classes"},
}

// Types returns the source types, sorted.
func Types() []string {
	types := make([]string, 0, len(sourceKeys))
	for t := range sourceKeys {
		types = append(types, t)
	}
	slices.Sort(types)
	return types
}

// Purpose says what a configuration is loaded for, and so what it must hold.
type Purpose int

const (
	// ForPush: runs that post to the server need everything (Validate).
	ForPush Purpose = iota
	// ForDryRun: a dry run posts nothing and needs only the interval and
	// the sources (ValidateSources).
	ForDryRun
)

// LoadConfig reads the YAML configuration file at path through viper,
// then the SKEIN_AGENT_* environment variables, which override the file's
// top-level keys (SKEIN_AGENT_TOKEN the token, whichever key gave it). A
// token_file is read here, its content trimmed. Keys left out take their
// defaults. It then validates the result for purpose.
//
// Its error lists every problem at once, as *FieldError values joined with
// errors.Join: what cannot be decoded (an unknown key, a value of the
// wrong type) and what Validate finds. A file that cannot be read is a
// plain error. On error the returned Config is the zero value.
func LoadConfig(path string, purpose Purpose) (Config, error) {
	c, err := decodeFile(path)
	var fe *FieldError
	if err != nil && !errors.As(err, &fe) {
		return Config{}, err
	}
	validate := c.Validate
	if purpose == ForDryRun {
		validate = c.ValidateSources
	}
	errs := fieldErrors(err)
	if purpose == ForDryRun {
		// A dry run sends nothing: where and how it would (a token file
		// readable only on the agent's host) does not stop it.
		kept := errs[:0]
		for _, e := range errs {
			if !errors.As(e, &fe) || !slices.Contains([]string{"server", "token", "token_file"}, fe.Key) {
				kept = append(kept, e)
			}
		}
		errs = kept
	}
	undecodable := map[string]bool{}
	for _, e := range errs {
		if errors.As(e, &fe) {
			undecodable[fe.Key] = true
		}
	}
	for _, e := range fieldErrors(validate()) {
		// A key that could not be decoded has its zero value, which says
		// nothing more.
		if !errors.As(e, &fe) || !undecodable[fe.Key] {
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return c, nil
}

// fieldErrors returns the errors err joins (err itself when it joins none).
func fieldErrors(err error) []error {
	if err == nil {
		return nil
	}
	if multi, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range multi.Unwrap() {
			out = append(out, fieldErrors(e)...)
		}
		return out
	}
	return []error{err}
}

// decodeFile reads the file and the environment into a Config.
func decodeFile(path string) (Config, error) {
	v := viper.New()
	v.SetConfigFile(path)
	v.SetConfigType("yaml")
	v.SetEnvPrefix(EnvPrefix)
	for _, k := range topKeys {
		if k == "sources" {
			continue
		}
		if err := v.BindEnv(k); err != nil {
			return Config{}, fmt.Errorf("config: bind %s: %w", k, err)
		}
	}
	v.SetDefault("timeout", DefaultTimeout)
	v.SetDefault("max_retry_time", DefaultMaxRetryTime)
	if err := v.ReadInConfig(); err != nil {
		return Config{}, fmt.Errorf("config: read %s: %w", path, err)
	}

	d := &decoder{}
	for _, k := range v.AllKeys() {
		top, _, _ := strings.Cut(k, ".")
		if !slices.Contains(topKeys, top) {
			d.bad(k, "unknown key (the keys are %s)", strings.Join(topKeys, ", "))
		} else if top != k && top != "sources" {
			d.bad(top, "must be a single value, not a mapping")
		}
	}
	c := Config{
		Server:       d.str("server", v.Get("server")),
		Token:        Secret(strings.TrimSpace(d.str("token", v.Get("token")))),
		Interval:     d.duration("interval", v.Get("interval")),
		Timeout:      d.duration("timeout", v.Get("timeout")),
		MaxRetryTime: d.duration("max_retry_time", v.Get("max_retry_time")),
	}
	if tf := d.str("token_file", v.Get("token_file")); tf != "" && os.Getenv(TokenEnv) == "" {
		if v.InConfig("token") {
			d.bad("token_file", "give token or token_file, not both")
		} else if data, err := os.ReadFile(tf); err != nil {
			d.bad("token_file", "cannot read the token: %v", err)
		} else {
			c.Token = Secret(strings.TrimSpace(string(data)))
		}
	}
	c.Sources = d.sources(v.Get("sources"))
	return c, errors.Join(d.errs...)
}

// decoder turns the values viper read into Config's types, collecting a
// *FieldError for each that does not fit.
type decoder struct{ errs []error }

func (d *decoder) bad(key, format string, args ...any) {
	d.errs = append(d.errs, &FieldError{Key: key, Message: fmt.Sprintf(format, args...)})
}

func (d *decoder) str(key string, v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case int, int64, float64, bool:
		return fmt.Sprint(x)
	}
	d.bad(key, "must be a single value, got a %s", kindOf(v))
	return ""
}

func (d *decoder) strings(key string, v any) []string {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		return []string{x}
	case []string:
		return x
	case []any:
		out := make([]string, 0, len(x))
		for i, e := range x {
			out = append(out, d.str(fmt.Sprintf("%s[%d]", key, i), e))
		}
		return out
	}
	d.bad(key, "must be a list of strings, got a %s", kindOf(v))
	return nil
}

func (d *decoder) boolean(key string, v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		switch strings.ToLower(x) {
		case "true", "yes", "on", "1":
			return true
		case "false", "no", "off", "0", "":
			return false
		}
	}
	d.bad(key, "must be true or false, got %v", v)
	return false
}

func (d *decoder) integer(key string, v any) int {
	switch x := v.(type) {
	case nil:
		return 0
	case int:
		return x
	case int64:
		return int(x)
	case float64:
		if x == float64(int(x)) {
			return int(x)
		}
	}
	d.bad(key, "must be a whole number, got %v", v)
	return 0
}

// duration accepts Go durations ("90s", "15m", "1h30m") and 0; viper
// passes the defaults as time.Duration and environment values as strings.
func (d *decoder) duration(key string, v any) time.Duration {
	switch x := v.(type) {
	case nil:
		return 0
	case time.Duration:
		return x
	case int:
		if x == 0 {
			return 0
		}
	case int64:
		if x == 0 {
			return 0
		}
	case string:
		if x == "0" || x == "" {
			return 0
		}
		if dur, err := time.ParseDuration(x); err == nil {
			return dur
		}
	}
	d.bad(key, "must be a duration such as 30s, 5m or 1h (or 0), got %v", v)
	return 0
}

func (d *decoder) sources(v any) []SourceConfig {
	if v == nil {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		d.bad("sources", "must be a list of sources, got a %s", kindOf(v))
		return nil
	}
	out := make([]SourceConfig, 0, len(list))
	for i, e := range list {
		at := fmt.Sprintf("sources[%d]", i)
		m, ok := e.(map[string]any)
		if !ok {
			d.bad(at, "must be a mapping with a type, got a %s", kindOf(e))
			continue
		}
		out = append(out, d.source(at, m))
	}
	return out
}

func (d *decoder) source(at string, m map[string]any) SourceConfig {
	get := func(k string) any {
		for key, v := range m {
			if strings.EqualFold(key, k) {
				return v
			}
		}
		return nil
	}
	s := SourceConfig{Type: d.str(at+".type", get("type")), Name: d.str(at+".name", get("name"))}
	allowed, known := sourceKeys[s.Type]
	if known {
		for key := range m {
			k := strings.ToLower(key)
			if k != "type" && k != "name" && !slices.Contains(allowed, k) {
				d.bad(at+"."+k, "unknown key for a %s source (its keys are type, name, %s)", s.Type, strings.Join(allowed, ", "))
			}
		}
	}
	s.ProposedClasses = d.boolean(at+".proposed_classes", get("proposed_classes"))
	s.Dir = d.str(at+".dir", get("dir"))
	s.Report = d.str(at+".report", get("report"))
	s.Targets = d.strings(at+".targets", get("targets"))
	s.Ports = d.str(at+".ports", get("ports"))
	s.ServiceInfo = d.boolean(at+".service_info", get("service_info"))
	s.OSDetection = d.boolean(at+".os_detection", get("os_detection"))
	s.NmapPath = d.str(at+".nmap_path", get("nmap_path"))
	s.Domain = d.str(at+".domain", get("domain"))
	s.MinOSAccuracy = d.integer(at+".min_os_accuracy", get("min_os_accuracy"))
	s.Cluster = d.str(at+".cluster", get("cluster"))
	s.Paths = d.strings(at+".paths", get("paths"))
	s.Namespace = d.str(at+".namespace", get("namespace"))
	s.ClusterDomain = d.str(at+".cluster_domain", get("cluster_domain"))
	s.Kubeconfig = d.str(at+".kubeconfig", get("kubeconfig"))
	s.Context = d.str(at+".context", get("context"))
	s.Namespaces = d.strings(at+".namespaces", get("namespaces"))
	s.FQDN = d.str(at+".fqdn", get("fqdn"))
	return s
}

func kindOf(v any) string {
	switch v.(type) {
	case map[string]any:
		return "mapping"
	case []any:
		return "list"
	}
	return fmt.Sprintf("%T", v)
}

// sourceName is the shape of a discovery source name the server accepts
// for an agent token (store.CheckSourceName).
var sourceName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,63}$`)

// reservedSources are the names Skein's own channels write as, which no
// agent token may report as: the server's list.
var reservedSources = auth.ReservedSources

// Validate checks everything a run that pushes needs: the server and
// token, the timings and the sources (ValidateSources). It returns every
// problem at once, as *FieldError values joined with errors.Join, or nil.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &FieldError{Key: key, Message: fmt.Sprintf(format, args...)})
	}
	if c.Server == "" {
		bad("server", "is required: the base URL of the Skein server, e.g. https://skein.example.com")
	} else if u, err := url.Parse(c.Server); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("server", "must be an http:// or https:// URL, got %q", c.Server)
	} else if u.User != nil {
		bad("server", "must not carry credentials: give the agent token as token, token_file or %s", TokenEnv)
	}
	if c.Token == "" {
		bad("token", "is required: set token, token_file or %s to an agent token", TokenEnv)
	}
	if c.Timeout <= 0 {
		bad("timeout", "must be a positive duration, got %s", c.Timeout)
	}
	if c.MaxRetryTime < 0 {
		bad("max_retry_time", "must be 0 (no retries) or a positive duration, got %s", c.MaxRetryTime)
	}
	if err := c.ValidateSources(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// ValidateSources checks the interval and the sources only: what a dry run,
// which posts nothing, needs.
func (c Config) ValidateSources() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &FieldError{Key: key, Message: fmt.Sprintf(format, args...)})
	}
	if c.Interval < 0 || (c.Interval > 0 && c.Interval < time.Second) {
		bad("interval", "must be 0 (run once) or at least 1s, got %s", c.Interval)
	}
	if len(c.Sources) == 0 {
		bad("sources", "is required: list at least one source (types: %s)", strings.Join(Types(), ", "))
	}
	for i, s := range c.Sources {
		at := fmt.Sprintf("sources[%d]", i)
		required := func(key, value string) {
			if value == "" {
				bad(at+"."+key, "is required for type %s", s.Type)
			}
		}
		if _, ok := sourceKeys[s.Type]; !ok {
			if s.Type == "" {
				bad(at+".type", "is required: one of %s", strings.Join(Types(), ", "))
			} else {
				bad(at+".type", "unknown source type %q: one of %s", s.Type, strings.Join(Types(), ", "))
			}
			continue
		}
		if s.Name != "" {
			switch {
			case !sourceName.MatchString(s.Name):
				bad(at+".name", "must be a name of letters, digits, '-' and '_' (at most 64, starting with a letter), e.g. nmap-dmz")
			case slices.ContainsFunc(reservedSources, func(r string) bool { return strings.EqualFold(r, s.Name) }):
				bad(at+".name", "%q is reserved for Skein's own channels (%s)", s.Name, strings.Join(reservedSources, ", "))
			}
		}
		if s.MinOSAccuracy < 0 || s.MinOSAccuracy > 100 {
			bad(at+".min_os_accuracy", "must be a percentage from 0 to 100, got %d", s.MinOSAccuracy)
		}
		switch s.Type {
		case TypeAnsible:
			required("dir", s.Dir)
		case TypeNmap:
			required("report", s.Report)
		case TypeNmapScan:
			if len(s.Targets) == 0 {
				bad(at+".targets", "is required for type nmap_scan: addresses, names or CIDR ranges")
			}
			for j, t := range s.Targets {
				if strings.TrimSpace(t) == "" || strings.HasPrefix(t, "-") {
					bad(fmt.Sprintf("%s.targets[%d]", at, j), "must be an address, a name or a CIDR range, got %q", t)
				}
			}
			if strings.HasPrefix(s.Ports, "-") {
				bad(at+".ports", "must be an nmap port list such as 22,80,443 or 1-1024, got %q", s.Ports)
			}
		case TypeKubernetes:
			required("cluster", s.Cluster)
			if len(s.Paths) == 0 {
				bad(at+".paths", "is required for type kubernetes: manifest files, directories or glob patterns")
			}
		case TypeKubernetesLive:
			required("cluster", s.Cluster)
		}
	}
	return errors.Join(errs...)
}
