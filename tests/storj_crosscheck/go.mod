module keyfob.dev/storj-crosscheck

go 1.25.0

require storj.io/common v0.0.0-20260903112600-b776c2238d07

require (
	github.com/spacemonkeygo/monkit/v3 v3.0.25-0.20251022131615-eb24eb109368 // indirect
	github.com/zeebo/errs v1.4.0 // indirect
	golang.org/x/crypto v0.53.0 // indirect
	golang.org/x/sys v0.46.0 // indirect
	storj.io/picobuf v0.0.4 // indirect
)
