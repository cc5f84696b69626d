// Command storj-crosscheck runs Storj's own Go code (storj.io/common) against access grants and macaroons
// produced by keyfob's pure-Python implementation, and produces grants for the Python parser to read.
//
// It is a test helper only: keyfob never runs it in production. It reads one JSON request on stdin and
// writes one JSON response on stdout.
//
//	storj-crosscheck check < request.json   parse a grant, verify its macaroon, evaluate actions
//	storj-crosscheck make  < request.json   build a grant from parts (root secret, head, caveats, Restrict)
//	storj-crosscheck derive < request.json  derive a root key from a passphrase (encryption.DeriveRootKey) and
//	                                        build the grant uplink/the console would (default key, LimitTo/Restrict)
//	storj-crosscheck paths < request.json   encrypt / decrypt object paths with a grant's (or a default key's)
//	                                        encryption store, and restrict to shared prefixes (grant.SharePrefix)
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"storj.io/common/encryption"
	"storj.io/common/grant"
	"storj.io/common/macaroon"
	"storj.io/common/paths"
	"storj.io/common/storj"
	"storj.io/common/uuid"
)

// ---- shared shapes ----

type pathJSON struct {
	Bucket string `json:"bucket"`
	Prefix string `json:"encrypted_path_prefix_hex"`
}

type caveatJSON struct {
	DisallowReads                              bool       `json:"disallow_reads,omitempty"`
	DisallowWrites                             bool       `json:"disallow_writes,omitempty"`
	DisallowLists                              bool       `json:"disallow_lists,omitempty"`
	DisallowDeletes                            bool       `json:"disallow_deletes,omitempty"`
	DisallowLocks                              bool       `json:"disallow_locks,omitempty"`
	DisallowPutRetention                       bool       `json:"disallow_put_retention,omitempty"`
	DisallowGetRetention                       bool       `json:"disallow_get_retention,omitempty"`
	DisallowPutLegalHold                       bool       `json:"disallow_put_legal_hold,omitempty"`
	DisallowGetLegalHold                       bool       `json:"disallow_get_legal_hold,omitempty"`
	DisallowBypassGovernanceRetention          bool       `json:"disallow_bypass_governance_retention,omitempty"`
	DisallowPutBucketObjectLockConfiguration   bool       `json:"disallow_put_bucket_object_lock_configuration,omitempty"`
	DisallowGetBucketObjectLockConfiguration   bool       `json:"disallow_get_bucket_object_lock_configuration,omitempty"`
	DisallowPutBucketNotificationConfiguration bool       `json:"disallow_put_bucket_notification_configuration,omitempty"`
	DisallowGetBucketNotificationConfiguration bool       `json:"disallow_get_bucket_notification_configuration,omitempty"`
	AllowedPaths                               []pathJSON `json:"allowed_paths,omitempty"`
	NotAfter                                   *time.Time `json:"not_after,omitempty"`
	NotBefore                                  *time.Time `json:"not_before,omitempty"`
	MaxObjectTTLSeconds                        *float64   `json:"max_object_ttl_seconds,omitempty"`
	NonceHex                                   string     `json:"nonce_hex,omitempty"`
}

func (c caveatJSON) toCaveat() (macaroon.Caveat, error) {
	out := macaroon.Caveat{
		DisallowReads:                              c.DisallowReads,
		DisallowWrites:                             c.DisallowWrites,
		DisallowLists:                              c.DisallowLists,
		DisallowDeletes:                            c.DisallowDeletes,
		DisallowLocks:                              c.DisallowLocks,
		DisallowPutRetention:                       c.DisallowPutRetention,
		DisallowGetRetention:                       c.DisallowGetRetention,
		DisallowPutLegalHold:                       c.DisallowPutLegalHold,
		DisallowGetLegalHold:                       c.DisallowGetLegalHold,
		DisallowBypassGovernanceRetention:          c.DisallowBypassGovernanceRetention,
		DisallowPutBucketObjectLockConfiguration:   c.DisallowPutBucketObjectLockConfiguration,
		DisallowGetBucketObjectLockConfiguration:   c.DisallowGetBucketObjectLockConfiguration,
		DisallowPutBucketNotificationConfiguration: c.DisallowPutBucketNotificationConfiguration,
		DisallowGetBucketNotificationConfiguration: c.DisallowGetBucketNotificationConfiguration,
		NotAfter:  c.NotAfter,
		NotBefore: c.NotBefore,
	}
	if c.MaxObjectTTLSeconds != nil {
		ttl := time.Duration(*c.MaxObjectTTLSeconds * float64(time.Second))
		out.MaxObjectTtl = &ttl
	}
	if c.NonceHex != "" {
		nonce, err := hex.DecodeString(c.NonceHex)
		if err != nil {
			return out, fmt.Errorf("nonce: %w", err)
		}
		out.Nonce = nonce
	}
	for _, p := range c.AllowedPaths {
		prefix, err := hex.DecodeString(p.Prefix)
		if err != nil {
			return out, fmt.Errorf("allowed path prefix: %w", err)
		}
		out.AllowedPaths = append(out.AllowedPaths, &macaroon.Caveat_Path{Bucket: []byte(p.Bucket), EncryptedPathPrefix: prefix})
	}
	return out, nil
}

func fromCaveat(c *macaroon.Caveat) caveatJSON {
	out := caveatJSON{
		DisallowReads:                              c.DisallowReads,
		DisallowWrites:                             c.DisallowWrites,
		DisallowLists:                              c.DisallowLists,
		DisallowDeletes:                            c.DisallowDeletes,
		DisallowLocks:                              c.DisallowLocks,
		DisallowPutRetention:                       c.DisallowPutRetention,
		DisallowGetRetention:                       c.DisallowGetRetention,
		DisallowPutLegalHold:                       c.DisallowPutLegalHold,
		DisallowGetLegalHold:                       c.DisallowGetLegalHold,
		DisallowBypassGovernanceRetention:          c.DisallowBypassGovernanceRetention,
		DisallowPutBucketObjectLockConfiguration:   c.DisallowPutBucketObjectLockConfiguration,
		DisallowGetBucketObjectLockConfiguration:   c.DisallowGetBucketObjectLockConfiguration,
		DisallowPutBucketNotificationConfiguration: c.DisallowPutBucketNotificationConfiguration,
		DisallowGetBucketNotificationConfiguration: c.DisallowGetBucketNotificationConfiguration,
		NotAfter:  c.NotAfter,
		NotBefore: c.NotBefore,
		NonceHex:  hex.EncodeToString(c.Nonce),
	}
	if c.MaxObjectTtl != nil {
		seconds := c.MaxObjectTtl.Seconds()
		out.MaxObjectTTLSeconds = &seconds
	}
	for _, p := range c.AllowedPaths {
		out.AllowedPaths = append(out.AllowedPaths, pathJSON{Bucket: string(p.Bucket), Prefix: hex.EncodeToString(p.EncryptedPathPrefix)})
	}
	return out
}

type entryJSON struct {
	Bucket      string `json:"bucket"`
	Unencrypted string `json:"unencrypted"`
	Encrypted   string `json:"encrypted"`
	EncHex      string `json:"encrypted_hex"`
	KeyHex      string `json:"key_hex"`
	PathCipher  int    `json:"path_cipher"`
}

type encAccessJSON struct {
	DefaultKeyHex     string      `json:"default_key_hex"`
	DefaultPathCipher int         `json:"default_path_cipher"`
	Entries           []entryJSON `json:"entries"`
}

func describeEncAccess(access *grant.EncryptionAccess) (encAccessJSON, error) {
	out := encAccessJSON{DefaultPathCipher: int(access.Store.GetDefaultPathCipher()), Entries: []entryJSON{}}
	if key := access.Store.GetDefaultKey(); key != nil {
		out.DefaultKeyHex = hex.EncodeToString(key[:])
	}
	err := access.Store.IterateWithCipher(func(bucket string, unenc paths.Unencrypted, enc paths.Encrypted, key storj.Key, cipher storj.CipherSuite) error {
		out.Entries = append(out.Entries, entryJSON{
			Bucket: bucket, Unencrypted: unenc.Raw(), Encrypted: enc.Raw(), EncHex: hex.EncodeToString([]byte(enc.Raw())),
			KeyHex: hex.EncodeToString(key[:]), PathCipher: int(cipher),
		})
		return nil
	})
	sort.Slice(out.Entries, func(i, j int) bool { return out.Entries[i].Bucket < out.Entries[j].Bucket })
	return out, err
}

// ---- check ----

type actionJSON struct {
	Op      int       `json:"op"`
	Bucket  string    `json:"bucket"`
	PathHex string    `json:"encrypted_path_hex"`
	Time    time.Time `json:"time"`
}

type checkRequest struct {
	Grant     string       `json:"grant"`
	SecretHex string       `json:"secret_hex"`
	Version   uint         `json:"version"`
	Actions   []actionJSON `json:"actions"`
}

type resultJSON struct {
	Allowed bool   `json:"allowed"`
	Error   string `json:"error,omitempty"`
}

type checkResponse struct {
	Satellite        string        `json:"satellite"`
	Valid            bool          `json:"valid"`
	HeadHex          string        `json:"head_hex"`
	TailHex          string        `json:"tail_hex"`
	TailsHex         []string      `json:"tails_hex"`
	Caveats          []caveatJSON  `json:"caveats"`
	CaveatBytesHex   []string      `json:"caveat_bytes_hex"`
	APIKey           string        `json:"api_key"`
	EncryptionAccess encAccessJSON `json:"encryption_access"`
	Results          []resultJSON  `json:"results"`
}

func check(req checkRequest) (checkResponse, error) {
	access, err := grant.ParseAccess(req.Grant)
	if err != nil {
		return checkResponse{}, fmt.Errorf("parse access: %w", err)
	}
	secret, err := hex.DecodeString(req.SecretHex)
	if err != nil {
		return checkResponse{}, fmt.Errorf("secret: %w", err)
	}
	mac, err := macaroon.ParseMacaroon(access.APIKey.SerializeRaw())
	if err != nil {
		return checkResponse{}, fmt.Errorf("parse macaroon: %w", err)
	}
	resp := checkResponse{
		Satellite: access.SatelliteAddress,
		Valid:     mac.Validate(secret),
		HeadHex:   hex.EncodeToString(mac.Head()),
		TailHex:   hex.EncodeToString(mac.Tail()),
		APIKey:    access.APIKey.Serialize(),
		Caveats:   []caveatJSON{},
		Results:   []resultJSON{},
	}
	for _, tail := range mac.Tails(secret) {
		resp.TailsHex = append(resp.TailsHex, hex.EncodeToString(tail))
	}
	for _, raw := range mac.Caveats() {
		resp.CaveatBytesHex = append(resp.CaveatBytesHex, hex.EncodeToString(raw))
		cav, err := macaroon.ParseCaveat(raw)
		if err != nil {
			return checkResponse{}, fmt.Errorf("parse caveat: %w", err)
		}
		resp.Caveats = append(resp.Caveats, fromCaveat(cav))
	}
	if resp.EncryptionAccess, err = describeEncAccess(access.EncAccess); err != nil {
		return checkResponse{}, err
	}
	for _, a := range req.Actions {
		path, err := hex.DecodeString(a.PathHex)
		if err != nil {
			return checkResponse{}, fmt.Errorf("action path: %w", err)
		}
		action := macaroon.Action{Op: macaroon.ActionType(a.Op), Bucket: []byte(a.Bucket), EncryptedPath: path, Time: a.Time}
		err = access.APIKey.Check(context.Background(), secret, macaroon.APIKeyVersion(req.Version), action, nil)
		if err != nil {
			resp.Results = append(resp.Results, resultJSON{Allowed: false, Error: err.Error()})
		} else {
			resp.Results = append(resp.Results, resultJSON{Allowed: true})
		}
	}
	return resp, nil
}

// ---- make ----

type permissionJSON struct {
	AllowDownload                         bool       `json:"allow_download"`
	AllowUpload                           bool       `json:"allow_upload"`
	AllowList                             bool       `json:"allow_list"`
	AllowDelete                           bool       `json:"allow_delete"`
	AllowLock                             bool       `json:"allow_lock"`
	AllowPutObjectRetention               bool       `json:"allow_put_object_retention"`
	AllowGetObjectRetention               bool       `json:"allow_get_object_retention"`
	AllowPutObjectLegalHold               bool       `json:"allow_put_object_legal_hold"`
	AllowGetObjectLegalHold               bool       `json:"allow_get_object_legal_hold"`
	AllowBypassGovernanceRetention        bool       `json:"allow_bypass_governance_retention"`
	AllowPutBucketObjectLockConfiguration bool       `json:"allow_put_bucket_object_lock_configuration"`
	AllowGetBucketObjectLockConfiguration bool       `json:"allow_get_bucket_object_lock_configuration"`
	NotAfter                              *time.Time `json:"not_after,omitempty"`
	Buckets                               []string   `json:"buckets"`
}

type makeRequest struct {
	Satellite         string          `json:"satellite"`
	SecretHex         string          `json:"secret_hex"`
	HeadHex           string          `json:"head_hex"`
	DefaultKeyHex     string          `json:"default_key_hex"`
	DefaultPathCipher int             `json:"default_path_cipher"`
	Caveats           []caveatJSON    `json:"caveats"`
	Restrict          *permissionJSON `json:"restrict,omitempty"`
}

type makeResponse struct {
	Grant            string        `json:"grant"`
	APIKey           string        `json:"api_key"`
	HeadHex          string        `json:"head_hex"`
	TailHex          string        `json:"tail_hex"`
	CaveatBytesHex   []string      `json:"caveat_bytes_hex"`
	EncryptionAccess encAccessJSON `json:"encryption_access"`
}

func makeGrant(req makeRequest) (makeResponse, error) {
	secret, err := hex.DecodeString(req.SecretHex)
	if err != nil {
		return makeResponse{}, fmt.Errorf("secret: %w", err)
	}
	head, err := hex.DecodeString(req.HeadHex)
	if err != nil {
		return makeResponse{}, fmt.Errorf("head: %w", err)
	}
	var caveats []macaroon.Caveat
	for _, c := range req.Caveats {
		cav, err := c.toCaveat()
		if err != nil {
			return makeResponse{}, err
		}
		caveats = append(caveats, cav)
	}
	apiKey, err := macaroon.FromParts(head, secret, caveats...)
	if err != nil {
		return makeResponse{}, fmt.Errorf("api key: %w", err)
	}
	encAccess := grant.NewEncryptionAccess()
	if req.DefaultKeyHex != "" {
		raw, err := hex.DecodeString(req.DefaultKeyHex)
		if err != nil {
			return makeResponse{}, fmt.Errorf("default key: %w", err)
		}
		key, err := storj.NewKey(raw)
		if err != nil {
			return makeResponse{}, err
		}
		encAccess.SetDefaultKey(key)
	}
	encAccess.SetDefaultPathCipher(storj.CipherSuite(req.DefaultPathCipher))
	access := &grant.Access{SatelliteAddress: req.Satellite, APIKey: apiKey, EncAccess: encAccess}

	if p := req.Restrict; p != nil {
		permission := grant.Permission{
			AllowDownload:                         p.AllowDownload,
			AllowUpload:                           p.AllowUpload,
			AllowList:                             p.AllowList,
			AllowDelete:                           p.AllowDelete,
			AllowLock:                             p.AllowLock,
			AllowPutObjectRetention:               p.AllowPutObjectRetention,
			AllowGetObjectRetention:               p.AllowGetObjectRetention,
			AllowPutObjectLegalHold:               p.AllowPutObjectLegalHold,
			AllowGetObjectLegalHold:               p.AllowGetObjectLegalHold,
			AllowBypassGovernanceRetention:        p.AllowBypassGovernanceRetention,
			AllowPutBucketObjectLockConfiguration: p.AllowPutBucketObjectLockConfiguration,
			AllowGetBucketObjectLockConfiguration: p.AllowGetBucketObjectLockConfiguration,
		}
		if p.NotAfter != nil {
			permission.NotAfter = *p.NotAfter
		}
		var prefixes []grant.SharePrefix
		for _, b := range p.Buckets {
			prefixes = append(prefixes, grant.SharePrefix{Bucket: b})
		}
		access, err = access.Restrict(permission, prefixes...)
		if err != nil {
			return makeResponse{}, fmt.Errorf("restrict: %w", err)
		}
	}

	serialized, err := access.Serialize()
	if err != nil {
		return makeResponse{}, fmt.Errorf("serialize: %w", err)
	}
	mac, err := macaroon.ParseMacaroon(access.APIKey.SerializeRaw())
	if err != nil {
		return makeResponse{}, err
	}
	resp := makeResponse{
		Grant:          serialized,
		APIKey:         access.APIKey.Serialize(),
		HeadHex:        hex.EncodeToString(mac.Head()),
		TailHex:        hex.EncodeToString(mac.Tail()),
		CaveatBytesHex: []string{},
	}
	for _, raw := range mac.Caveats() {
		resp.CaveatBytesHex = append(resp.CaveatBytesHex, hex.EncodeToString(raw))
	}
	if resp.EncryptionAccess, err = describeEncAccess(access.EncAccess); err != nil {
		return makeResponse{}, err
	}
	return resp, nil
}

// ---- derive ----

type deriveRequest struct {
	PassphraseHex   string          `json:"passphrase_hex"`
	SaltHex         string          `json:"salt_hex"`
	LegacyProjectID string          `json:"legacy_project_id"`
	Path            string          `json:"path"`
	Concurrency     uint8           `json:"concurrency"`
	Satellite       string          `json:"satellite"`
	APIKey          string          `json:"api_key"`
	EncryptPath     bool            `json:"encrypt_path"`
	Restrict        *permissionJSON `json:"restrict,omitempty"`
}

type deriveResponse struct {
	SaltHex          string        `json:"salt_hex"`
	RootKeyHex       string        `json:"root_key_hex"`
	Grant            string        `json:"grant,omitempty"`
	EncryptionAccess encAccessJSON `json:"encryption_access"`
}

// derive follows uplink access.go RequestAccessWithPassphrase and satellite/console/access.go
// createRestrictedAccess, with the salt given (or computed as satellite/satellitedb/consoledb/projects.go GetSalt
// does for a project without a stored salt: sha256 of the project id's 16 bytes).
func derive(req deriveRequest) (deriveResponse, error) {
	passphrase, err := hex.DecodeString(req.PassphraseHex)
	if err != nil {
		return deriveResponse{}, fmt.Errorf("passphrase: %w", err)
	}
	salt, err := hex.DecodeString(req.SaltHex)
	if err != nil {
		return deriveResponse{}, fmt.Errorf("salt: %w", err)
	}
	if req.LegacyProjectID != "" {
		id, err := uuid.FromString(req.LegacyProjectID)
		if err != nil {
			return deriveResponse{}, fmt.Errorf("project id: %w", err)
		}
		sum := sha256.Sum256(id[:])
		salt = sum[:]
	}
	concurrency := req.Concurrency
	if concurrency == 0 {
		concurrency = 8
	}
	key, err := encryption.DeriveRootKey(passphrase, salt, req.Path, concurrency)
	if err != nil {
		return deriveResponse{}, fmt.Errorf("derive: %w", err)
	}
	resp := deriveResponse{SaltHex: hex.EncodeToString(salt), RootKeyHex: hex.EncodeToString(key[:])}
	encAccess := grant.NewEncryptionAccessWithDefaultKey(key)
	encAccess.SetDefaultPathCipher(storj.EncAESGCM)
	if !req.EncryptPath {
		encAccess.SetDefaultPathCipher(storj.EncNull)
	}
	if req.APIKey == "" {
		resp.EncryptionAccess, err = describeEncAccess(encAccess)
		return resp, err
	}
	apiKey, err := macaroon.ParseAPIKey(req.APIKey)
	if err != nil {
		return deriveResponse{}, fmt.Errorf("api key: %w", err)
	}
	encAccess.LimitTo(apiKey)
	access := &grant.Access{SatelliteAddress: req.Satellite, APIKey: apiKey, EncAccess: encAccess}
	if p := req.Restrict; p != nil {
		permission := grant.Permission{
			AllowDownload: p.AllowDownload, AllowUpload: p.AllowUpload, AllowList: p.AllowList, AllowDelete: p.AllowDelete,
		}
		if p.NotAfter != nil {
			permission.NotAfter = *p.NotAfter
		}
		var prefixes []grant.SharePrefix
		for _, b := range p.Buckets {
			prefixes = append(prefixes, grant.SharePrefix{Bucket: b})
		}
		if access, err = access.Restrict(permission, prefixes...); err != nil {
			return deriveResponse{}, fmt.Errorf("restrict: %w", err)
		}
	}
	if resp.Grant, err = access.Serialize(); err != nil {
		return deriveResponse{}, fmt.Errorf("serialize: %w", err)
	}
	resp.EncryptionAccess, err = describeEncAccess(access.EncAccess)
	return resp, err
}

// ---- paths ----

type sharePrefixJSON struct {
	Bucket string `json:"bucket"`
	Prefix string `json:"prefix"`
}

type pathsRequest struct {
	Grant             string            `json:"grant"`
	DefaultKeyHex     string            `json:"default_key_hex"`
	DefaultPathCipher int               `json:"default_path_cipher"`
	Bucket            string            `json:"bucket"`
	Encrypt           []string          `json:"encrypt"`
	DecryptHex        []string          `json:"decrypt_hex"`
	Share             []sharePrefixJSON `json:"share"`
}

type pathResult struct {
	Hex   string `json:"hex,omitempty"`
	Text  string `json:"text,omitempty"`
	Error string `json:"error,omitempty"`
}

type pathsResponse struct {
	Encrypted        []pathResult  `json:"encrypted"`
	Decrypted        []pathResult  `json:"decrypted"`
	SharedPrefixHex  []string      `json:"shared_prefix_hex"`
	EncryptionAccess encAccessJSON `json:"encryption_access"`
}

// paths uses encryption.EncryptPathWithStoreCipher / DecryptPathWithStoreCipher (what uplink and the gateway do
// with a grant's store) and, with `share`, grant.Access.Restrict with SharePrefixes on a default-key access.
func pathsCommand(req pathsRequest) (pathsResponse, error) {
	var store *grant.EncryptionAccess
	if req.Grant != "" {
		access, err := grant.ParseAccess(req.Grant)
		if err != nil {
			return pathsResponse{}, fmt.Errorf("parse access: %w", err)
		}
		store = access.EncAccess
	} else {
		raw, err := hex.DecodeString(req.DefaultKeyHex)
		if err != nil {
			return pathsResponse{}, fmt.Errorf("default key: %w", err)
		}
		key, err := storj.NewKey(raw)
		if err != nil {
			return pathsResponse{}, err
		}
		store = grant.NewEncryptionAccessWithDefaultKey(key)
		store.SetDefaultPathCipher(storj.CipherSuite(req.DefaultPathCipher))
	}
	resp := pathsResponse{Encrypted: []pathResult{}, Decrypted: []pathResult{}, SharedPrefixHex: []string{}}
	for _, path := range req.Encrypt {
		enc, err := encryption.EncryptPathWithStoreCipher(req.Bucket, paths.NewUnencrypted(path), store.Store)
		if err != nil {
			resp.Encrypted = append(resp.Encrypted, pathResult{Error: err.Error()})
		} else {
			resp.Encrypted = append(resp.Encrypted, pathResult{Hex: hex.EncodeToString([]byte(enc.Raw()))})
		}
	}
	for _, encHex := range req.DecryptHex {
		raw, err := hex.DecodeString(encHex)
		if err != nil {
			return pathsResponse{}, fmt.Errorf("decrypt path: %w", err)
		}
		dec, err := encryption.DecryptPathWithStoreCipher(req.Bucket, paths.NewEncrypted(string(raw)), store.Store)
		if err != nil {
			resp.Decrypted = append(resp.Decrypted, pathResult{Error: err.Error()})
		} else {
			resp.Decrypted = append(resp.Decrypted, pathResult{Text: dec.Raw()})
		}
	}
	if len(req.Share) > 0 {
		apiKey, err := macaroon.NewAPIKey([]byte("crosscheck-secret"))
		if err != nil {
			return pathsResponse{}, err
		}
		access := &grant.Access{SatelliteAddress: "sat.invalid:7777", APIKey: apiKey, EncAccess: store}
		var prefixes []grant.SharePrefix
		for _, p := range req.Share {
			prefixes = append(prefixes, grant.SharePrefix{Bucket: p.Bucket, Prefix: p.Prefix})
			enc, err := encryption.EncryptPathWithStoreCipher(p.Bucket, paths.NewUnencrypted(strings.TrimSuffix(p.Prefix, "/")), store.Store)
			if err != nil {
				return pathsResponse{}, err
			}
			resp.SharedPrefixHex = append(resp.SharedPrefixHex, hex.EncodeToString([]byte(enc.Raw())))
		}
		restricted, err := access.Restrict(grant.Permission{AllowDownload: true}, prefixes...)
		if err != nil {
			return pathsResponse{}, fmt.Errorf("restrict: %w", err)
		}
		store = restricted.EncAccess
	}
	var err error
	resp.EncryptionAccess, err = describeEncAccess(store)
	return resp, err
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: storj-crosscheck check|make|derive|paths < request.json")
		os.Exit(2)
	}
	decoder := json.NewDecoder(os.Stdin)
	decoder.DisallowUnknownFields()
	var (
		out any
		err error
	)
	switch os.Args[1] {
	case "check":
		var req checkRequest
		if err = decoder.Decode(&req); err == nil {
			out, err = check(req)
		}
	case "make":
		var req makeRequest
		if err = decoder.Decode(&req); err == nil {
			out, err = makeGrant(req)
		}
	case "derive":
		var req deriveRequest
		if err = decoder.Decode(&req); err == nil {
			out, err = derive(req)
		}
	case "paths":
		var req pathsRequest
		if err = decoder.Decode(&req); err == nil {
			out, err = pathsCommand(req)
		}
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "storj-crosscheck:", err)
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "storj-crosscheck:", err)
		os.Exit(1)
	}
}
