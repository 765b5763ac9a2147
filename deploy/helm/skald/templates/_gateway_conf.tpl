{{/* The gateway's nginx.conf (a ConfigMap, hashed into the pods' annotations so a change rolls them). */}}
{{- define "skald.gatewayConf" -}}
{{- $full := include "skald.fullname" . }}
{{- $suffix := printf "%s.svc.%s:3100" .Release.Namespace .Values.clusterDomain }}
{{- $single := eq .Values.deploymentMode "SingleBinary" }}
{{- $push := printf "%s-%s.%s" $full (ternary "single-binary" "distributor" $single) $suffix }}
{{- $tail := printf "%s-%s.%s" $full (ternary "single-binary" "querier" $single) $suffix }}
{{- $read := printf "%s-%s.%s" $full (ternary "single-binary" "query-frontend" $single) $suffix }}
{{- $ruler := printf "%s-%s.%s" $full (ternary "single-binary" "ruler" $single) $suffix }}
worker_processes  5;
error_log  /dev/stderr;
pid        /tmp/nginx.pid;
worker_rlimit_nofile 8192;

events {
  worker_connections  4096;
}

http {
  client_body_temp_path /tmp/client_temp;
  proxy_temp_path       /tmp/proxy_temp_path;
  fastcgi_temp_path     /tmp/fastcgi_temp;
  uwsgi_temp_path       /tmp/uwsgi_temp;
  scgi_temp_path        /tmp/scgi_temp;

  default_type application/octet-stream;
  access_log   /dev/stderr;
  sendfile     on;
  tcp_nopush   on;
  # proxy_pass with variables: service names are resolved per request, so the
  # gateway starts before the services exist and follows their changes.
  resolver {{ .Values.gateway.resolver }} valid=10s;
  proxy_read_timeout 600s;
  {{- with .Values.gateway.nginxConfig.httpSnippet }}
  {{- . | nindent 2 }}
  {{- end }}

  server {
    listen             8080;
    set $push  {{ $push }};
    set $tail  {{ $tail }};
    set $read  {{ $read }};
    {{- if or $single .Values.ruler.enabled }}
    set $ruler {{ $ruler }};
    {{- end }}

    location = / {
      return 200 'OK';
    }

    location = /api/prom/push {
      proxy_pass       http://$push$request_uri;
    }
    location = /loki/api/v1/push {
      proxy_pass       http://$push$request_uri;
    }

    location = /api/prom/tail {
      proxy_pass       http://$tail$request_uri;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
    }
    location = /loki/api/v1/tail {
      proxy_pass       http://$tail$request_uri;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
    }

    {{- if or $single .Values.ruler.enabled }}
    location ~ /prometheus/api/v1/(alerts|rules).* {
      proxy_pass       http://$ruler$request_uri;
    }
    location ~ /api/prom/(alerts|rules).* {
      proxy_pass       http://$ruler$request_uri;
    }
    {{- end }}

    location ~ /api/prom/.* {
      proxy_pass       http://$read$request_uri;
    }
    location ~ /loki/api/.* {
      proxy_pass       http://$read$request_uri;
    }
    {{- with .Values.gateway.nginxConfig.serverSnippet }}
    {{- . | nindent 4 }}
    {{- end }}
  }
}
{{- end -}}
