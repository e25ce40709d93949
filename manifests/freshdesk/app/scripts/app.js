// The ticket sidebar: closeloop's own sidebar page for this ticket, in an iframe. The page needs a
// signed context (README "Agent sidebar"); the closeloopSidebarContext request template asks
// closeloop for one with the agent API token, which the platform fills in from the secure iparam
// (the browser never sees it), and answers {ctx, url, expires_at}: the iframe opens that url.
document.addEventListener('DOMContentLoaded', function () {
  app.initialized().then(function (client) {
    client.events.on('app.activated', function () { show(client); });
  });
});

function show(client) {
  var status = document.getElementById('status');
  Promise.all([client.data.get('ticket'), client.data.get('loggedInUser')])
    .then(function (results) {
      var ticket = results[0].ticket;
      var user = results[1].loggedInUser || {};
      var lang = String((user.contact && user.contact.language) || user.language || 'en');
      return client.request.invokeTemplate('closeloopSidebarContext', {
        context: { ticket_id: String(ticket.id), lang: lang }
      });
    })
    .then(function (res) {
      var answer = JSON.parse(res.response);
      var frame = document.getElementById('sidebar');
      frame.src = answer.url;  // {closeloop_url}/sidebar?ctx=...
      frame.hidden = false;
      status.textContent = '';
    })
    .catch(function (err) {
      status.textContent = 'closeloop is not reachable: ' + (err && (err.status || err.message) || 'unknown error');
    });
}
