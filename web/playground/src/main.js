// The Skein Playground: GraphiQL, bundled by vite so that every script,
// style, font and worker is served by the skein binary (no CDN at run time,
// which the server's Content-Security-Policy enforces).
import 'graphiql/setup-workers/vite';
import 'graphiql/style.css';
import './style.css';

import { createElement } from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { createGraphiQLFetcher } from '@graphiql/toolkit';

// The endpoint is resolved against the page, so it is /graphql when the
// Playground is served at /, and still right behind a reverse proxy that
// mounts Skein under a path prefix.
const endpoint = new URL('graphql', document.baseURI).href;

const defaultQuery = `# Welcome to the Skein Playground.
#
# Run a query with Ctrl-Enter (or the pink button);
# browse the schema in the Documentation Explorer.
# docs/API.md walks through many more examples.
#
# Start here: the business services and what
# provides them. Then copy a CI's id and ask
# impactAnalysis(ciIds: ["..."]) what breaks if
# it fails, and why.

{
  cis(filter: {class: "BusinessService"}, first: 10) {
    totalCount
    edges {
      node {
        id
        name
        criticality
        owner
        relationships(direction: OUT, types: ["PROVIDED_BY"]) {
          edges { node { target { id name class } } }
        }
      }
    }
  }
}
`;
const fetcher = createGraphiQLFetcher({ url: endpoint });

// `skein serve --demo` hands the Playground an API token in the URL's
// fragment (#token=skn_...), which browsers never send to the server, so it
// stays out of access logs. Move it into the headers editor, remove it from
// the address bar (and so from history and bookmarks), and keep it in this
// tab's sessionStorage so that a reload still has it.
const tokenPattern = /^skn_[a-z2-7]{10}_[A-Za-z0-9_-]{43}$/;
function handedToken() {
  const params = new URLSearchParams(window.location.hash.slice(1));
  const handed = params.get('token');
  if (handed !== null) {
    window.history.replaceState(null, '', window.location.pathname + window.location.search);
    if (tokenPattern.test(handed)) {
      window.sessionStorage.setItem('skein.token', handed);
      return handed;
    }
  }
  const kept = window.sessionStorage.getItem('skein.token');
  return kept && tokenPattern.test(kept) ? kept : null;
}
const token = handedToken();
const headers = token ? JSON.stringify({ Authorization: `Bearer ${token}` }, null, 2) : undefined;

createRoot(document.getElementById('graphiql')).render(
  createElement(GraphiQL, {
    fetcher,
    defaultQuery,
    isHeadersEditorEnabled: true,
    initialHeaders: headers,
    defaultHeaders: headers,
    // Headers often carry credentials: keep them out of localStorage
    // unless the user opts in from the settings dialog.
    shouldPersistHeaders: false,
  }),
);
