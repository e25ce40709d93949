// The ticket sidebar: closeloop's own sidebar page ({closeloop_url}/sidebar) for this ticket,
// in an iframe. The secret never reaches the browser: the reachability check goes through the
// closeloopHealth request template, which the platform fills with the secure iparam.
document.addEventListener('DOMContentLoaded', function () {
  app.initialized().then(function (client) {
    client.events.on('app.activated', function () { show(client); });
  });
});

function show(client) {
  var status = document.getElementById('status');
  Promise.all([client.iparams.get('closeloop_url'), client.data.get('ticket')])
    .then(function (results) {
      var base = String(results[0].closeloop_url || '').replace(/\/+$/, '');
      var ticket = results[1].ticket;
      var frame = document.getElementById('sidebar');
      frame.src = base + '/sidebar?vendor=freshdesk&ticket=' + encodeURIComponent(ticket.id);
      frame.hidden = false;
      status.textContent = '';
      return client.request.invokeTemplate('closeloopHealth', {});
    })
    .catch(function (err) {
      status.textContent = 'closeloop is not reachable: ' + (err && (err.status || err.message) || 'unknown error');
    });
}
