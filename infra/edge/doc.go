// Package edge holds the edge's second template, webacl.yaml: the AWS WAF
// web ACL of the pccc distribution, for a stack outside us-east-1 (a
// CLOUDFRONT-scope web ACL can only be made there). Its test holds it equal
// to template.yaml's own WebAcl, made in-stack when the stack is in
// us-east-1, so the two cannot drift apart.
package edge
