//go:build tools

// Package tools pins module dependencies before their users land.
package tools

import (
	_ "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	_ "github.com/alibabacloud-go/tea/tea"
	_ "github.com/alibabacloud-go/vod-20170321/v4/client"
	_ "github.com/alicebob/miniredis/v2"
	_ "github.com/aliyun/aliyun-oss-go-sdk/oss"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/redis/go-redis/v9"
	_ "github.com/tus/tusd/v2/pkg/handler"
	_ "gopkg.in/yaml.v3"
)

