module k8sretry.dev/dist/gomodzip

go 1.24.0

require golang.org/x/mod v0.24.0
