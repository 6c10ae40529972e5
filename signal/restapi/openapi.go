package restapi

import _ "embed"

// openAPIDocument is the OpenAPI 3 description of this API, served at OpenAPIPath. It is kept by
// hand beside the route table; TestOpenAPIMatchesRoutes fails when the two list different paths.
//
//go:embed openapi.json
var openAPIDocument []byte
