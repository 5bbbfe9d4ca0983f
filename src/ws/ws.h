/* libws: the wsgate WebSocket protocol core.
 *
 * Pure C with no sockets and no event loop: feed it bytes, it answers
 * through a transport vtable and handler callbacks.  Modules:
 *   ws_error       the one error enum, its texts, HTTP statuses, close codes
 *   ws_utf8        streaming strict UTF-8 validation
 *   ws_close       close codes and close payloads
 *   ws_frame       frame parser and encoder
 *   ws_deflate     permessage-deflate negotiation and codec
 *   ws_h1_upgrade  HTTP/1.1 Upgrade handshake (RFC 6455)
 *   ws_h2_upgrade  HTTP/2 extended CONNECT (RFC 8441)
 *   ws_h3_upgrade  HTTP/3 extended CONNECT (RFC 9220)
 *   ws_session     the connection state machine
 * See README.md ("Embedding libws") for the four steps of an embedder.
 */
#ifndef WS_H
#define WS_H

#include "ws_close.h"
#include "ws_deflate.h"
#include "ws_error.h"
#include "ws_frame.h"
#include "ws_h1_upgrade.h"
#include "ws_h2_upgrade.h"
#include "ws_h3_upgrade.h"
#include "ws_session.h"
#include "ws_upgrade.h"
#include "ws_utf8.h"

#define WS_VERSION "0.1.0"

#endif
