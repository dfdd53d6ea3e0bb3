package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/vodgate/vodgate/internal/auth"
)

// runToken is the "gateway token" subcommand: it mints an upload token
// with the first key of the upload token key file and prints it. It
// returns 0, or 2 on usage and key errors.
func runToken(args []string, env Env, readFile func(string) ([]byte, error), stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gateway token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keyEnv := EnvName("auth-upload-token-key-file")
	defKey, _ := env(keyEnv)
	keyFile := fs.String("key-file", defKey, "file of upload token keys; the first one signs (env "+keyEnv+")")
	sub := fs.String("sub", "", "owner of the uploads the token allows (required)")
	ttl := fs.Duration("ttl", time.Hour, "how long the token is valid")
	var maxSize ByteSize
	fs.Var(&byteSizeFlag{&maxSize}, "max-size", "largest upload allowed, e.g. 2GiB; 0: no cap")
	types := fs.String("types", "", "comma-separated media types allowed: video, image, attached; empty: any")
	tg := fs.String("template-group-id", "", "VOD TemplateGroupId imposed on the uploads")
	wf := fs.String("workflow-id", "", "VOD WorkflowId imposed")
	cate := fs.Int64("cate-id", 0, "VOD CateId imposed; 0: none")
	loc := fs.String("storage-location", "", "VOD StorageLocation imposed")
	app := fs.String("app-id", "", "VOD AppId imposed")
	admin := fs.Bool("admin", false, "let the token list and cancel every owner's uploads through the upload API")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: gateway token -key-file FILE -sub OWNER [flags]\n\n"+
			"Prints an upload token (v1.<claims>.<HMAC-SHA256>) for Authorization: Bearer.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "gateway token: unexpected argument %q\n", fs.Arg(0))
		return 2
	case *keyFile == "":
		fmt.Fprintln(stderr, "gateway token: -key-file is required")
		return 2
	case *sub == "":
		fmt.Fprintln(stderr, "gateway token: -sub is required")
		return 2
	case *ttl <= 0:
		fmt.Fprintln(stderr, "gateway token: -ttl must be positive")
		return 2
	}
	keys, err := readKeys(readFile, "auth-upload-token-key-file", *keyFile)
	if err != nil {
		fmt.Fprintf(stderr, "gateway token: %v\n", err)
		return 2
	}
	now := time.Now()
	tok, err := auth.MintUploadToken(keys[0], auth.UploadClaims{
		Subject: *sub, Expires: now.Add(*ttl).Unix(), IssuedAt: now.Unix(), MaxSize: int64(maxSize),
		MediaTypes: ParseList(*types), TemplateGroupID: *tg, WorkflowID: *wf, CateID: *cate,
		StorageLocation: *loc, AppID: *app, Admin: *admin,
	})
	if err != nil {
		fmt.Fprintf(stderr, "gateway token: %v\n", strings.TrimPrefix(err.Error(), "auth: "))
		return 2
	}
	fmt.Fprintln(stdout, tok)
	return 0
}

// byteSizeFlag is a flag.Value for a ByteSize.
type byteSizeFlag struct{ v *ByteSize }

func (f *byteSizeFlag) String() string {
	if f == nil || f.v == nil {
		return "0"
	}
	return f.v.String()
}

func (f *byteSizeFlag) Set(s string) error {
	n, err := ParseByteSize(s)
	if err != nil {
		return err
	}
	*f.v = n
	return nil
}
