package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Environment variables read besides VODGATE_<KEY>.
const (
	EnvConfig          = "VODGATE_CONFIG"
	EnvAccessKeyID     = "ALIBABA_CLOUD_ACCESS_KEY_ID"
	EnvAccessKeySecret = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"
	EnvSecurityToken   = "ALIBABA_CLOUD_SECURITY_TOKEN"
)

// Options are command-line settings that are not configuration keys.
type Options struct {
	ConfigFile string // -config or VODGATE_CONFIG
	Version    bool   // -version or the "version" argument
	// Warnings are notes for the log once it exists (e.g. secrets read
	// from the config file).
	Warnings []string
}

// Env looks up an environment variable (os.LookupEnv in main).
type Env func(key string) (string, bool)

// EnvName returns the environment variable of a configuration key:
// "redis-url" -> "VODGATE_REDIS_URL".
func EnvName(key string) string {
	return "VODGATE_" + strings.ToUpper(strings.ReplaceAll(key, "-", "_"))
}

// key describes one configuration key, bound to a field of a Config.
type key struct {
	name  string
	usage string
	index int // field index in Config
	flag  bool
}

// keys lists the configuration keys in declaration order.
func keys() []key {
	t := reflect.TypeFor[Config]()
	ks := make([]key, 0, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		ks = append(ks, key{name: name, usage: f.Tag.Get("usage"), index: i, flag: f.Tag.Get("flag") != "-"})
	}
	return ks
}

// Load resolves the configuration: defaults, then the YAML file (-config
// or VODGATE_CONFIG), then VODGATE_<KEY> variables and the ALIBABA_CLOUD_*
// credentials, then flags. It does not validate; call [Config.Validate].
// Errors name the source and key. -h returns flag.ErrHelp after printing
// usage to out.
func Load(args []string, env Env, readFile func(string) ([]byte, error), out io.Writer) (Config, Options, error) {
	var opts Options
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.SetOutput(out)
	defaults := DefaultConfig()
	var setFlags []setting
	for _, k := range keys() {
		if !k.flag {
			continue
		}
		def := fieldValue{field(&defaults, k)}
		usage := fmt.Sprintf("%s (env %s)", k.usage, EnvName(k.name))
		shown := def.String()
		if def.isBool() && shown == "false" {
			shown = "" // flag prints no default for a zero value
		}
		fs.Var(&recorder{name: k.name, def: shown, isBool: def.isBool(), into: &setFlags}, k.name, usage)
	}
	cfgFile, _ := env(EnvConfig)
	fs.StringVar(&opts.ConfigFile, "config", cfgFile, "YAML configuration file (env "+EnvConfig+")")
	fs.BoolVar(&opts.Version, "version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: gateway [flags]\n       gateway version\n       gateway token -key-file FILE -sub OWNER [-ttl 1h] [-max-size SIZE] (-h for more)\n\n"+
			"Precedence: flag > VODGATE_<KEY> env > -config file > default.\n"+
			"Credentials: %s, %s, %s.\n\nFlags:\n", EnvAccessKeyID, EnvAccessKeySecret, EnvSecurityToken)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, opts, err
	}
	switch rest := fs.Args(); {
	case len(rest) == 1 && rest[0] == "version":
		opts.Version = true
	case len(rest) > 0:
		return Config{}, opts, fmt.Errorf("unexpected argument %q (see -h)", rest[0])
	}

	cfg := defaults
	if opts.ConfigFile != "" {
		data, err := readFile(opts.ConfigFile)
		if err != nil {
			return Config{}, opts, fmt.Errorf("config file: %w", err)
		}
		if err := decodeYAML(data, &cfg); err != nil {
			return Config{}, opts, fmt.Errorf("config file %s: %w", opts.ConfigFile, err)
		}
		if cfg.AccessKeySecret != "" || cfg.SecurityToken != "" {
			opts.Warnings = append(opts.Warnings, "credentials read from the config file; prefer "+
				EnvAccessKeyID+" and "+EnvAccessKeySecret)
		}
	}
	for _, k := range keys() {
		if !k.flag {
			continue
		}
		if v, ok := env(EnvName(k.name)); ok {
			if err := (fieldValue{field(&cfg, k)}).Set(v); err != nil {
				return Config{}, opts, fmt.Errorf("env %s: %w", EnvName(k.name), err)
			}
		}
	}
	for name, p := range map[string]*string{EnvAccessKeyID: &cfg.AccessKeyID,
		EnvAccessKeySecret: &cfg.AccessKeySecret, EnvSecurityToken: &cfg.SecurityToken} {
		if v, ok := env(name); ok && v != "" {
			*p = v
		}
	}
	byName := map[string]key{}
	for _, k := range keys() {
		byName[k.name] = k
	}
	for _, s := range setFlags {
		if err := (fieldValue{field(&cfg, byName[s.name])}).Set(s.value); err != nil {
			return Config{}, opts, fmt.Errorf("flag -%s: %w", s.name, err)
		}
	}
	return cfg, opts, nil
}

// decodeYAML decodes a YAML document into cfg, rejecting unknown keys.
func decodeYAML(data []byte, cfg *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

func field(cfg *Config, k key) reflect.Value { return reflect.ValueOf(cfg).Elem().Field(k.index) }

// setting is one flag as given on the command line.
type setting struct{ name, value string }

// recorder is the flag.Value of every key flag: it records what was set,
// in order, so flags can be applied after the file and the environment.
type recorder struct {
	name, def string
	isBool    bool
	into      *[]setting
}

func (r *recorder) String() string {
	if r == nil {
		return ""
	}
	return r.def
}

func (r *recorder) Set(v string) error {
	*r.into = append(*r.into, setting{r.name, v})
	return nil
}

func (r *recorder) IsBoolFlag() bool { return r.isBool }

// fieldValue parses and formats a Config field from its text form.
type fieldValue struct{ v reflect.Value }

var (
	durationType = reflect.TypeFor[time.Duration]()
	sizeType     = reflect.TypeFor[ByteSize]()
	listType     = reflect.TypeFor[List]()
)

func (f fieldValue) isBool() bool { return f.v.Kind() == reflect.Bool }

func (f fieldValue) String() string {
	switch f.v.Type() {
	case durationType:
		return time.Duration(f.v.Int()).String()
	case sizeType:
		return ByteSize(f.v.Int()).String()
	case listType:
		return List(f.v.Interface().(List)).String()
	}
	return fmt.Sprint(f.v.Interface())
}

func (f fieldValue) Set(s string) error {
	switch f.v.Type() {
	case durationType:
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return err
		}
		f.v.SetInt(int64(d))
		return nil
	case sizeType:
		b, err := ParseByteSize(s)
		if err != nil {
			return err
		}
		f.v.SetInt(int64(b))
		return nil
	case listType:
		f.v.Set(reflect.ValueOf(ParseList(s)))
		return nil
	}
	switch f.v.Kind() {
	case reflect.String:
		f.v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("invalid boolean %q", s)
		}
		f.v.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return fmt.Errorf("invalid integer %q", s)
		}
		f.v.SetInt(n)
	case reflect.Float64:
		x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return fmt.Errorf("invalid number %q", s)
		}
		f.v.SetFloat(x)
	default:
		return fmt.Errorf("unsupported type %s", f.v.Type())
	}
	return nil
}
