// The ticket sidebar: closeloop's own sidebar page for this ticket, in an iframe. The page needs a
// signed context (README "Agent sidebar"). Zendesk's proxy makes the request below server-side
// (secure: true) and only there replaces {{setting.closeloop_api_token}} with the secure setting
// (an agent API token of the tenant), so the token never reaches the browser; closeloop answers
// {ctx, url, expires_at} and the iframe opens that url. closeloop's host must be in the
// manifest's domainWhitelist for a secure request.
var client = ZAFClient.init();
client.invoke('resize', { width: '100%', height: '600px' });

Promise.all([client.metadata(), client.get(['ticket.id', 'currentUser.locale'])])
  .then(function (results) {
    var settings = results[0].settings;
    var data = results[1];
    var base = String(settings.closeloop_url || '').replace(/\/+$/, '');
    var path = '/api/v1/tenants/' + encodeURIComponent(settings.closeloop_tenant) +
      '/hosts/' + encodeURIComponent(settings.closeloop_host) +
      '/tickets/' + encodeURIComponent(data['ticket.id']) + '/sidebar-context';
    return client.request({
      url: base + path + '?lang=' + encodeURIComponent(data['currentUser.locale'] || 'en'),
      type: 'POST',
      secure: true,
      headers: { Authorization: 'Bearer {{setting.closeloop_api_token}}' },
      dataType: 'json'
    });
  })
  .then(function (answer) {
    var frame = document.getElementById('sidebar');
    frame.src = answer.url;
    frame.hidden = false;
    document.getElementById('status').textContent = '';
  })
  .catch(function (err) {
    document.getElementById('status').textContent =
      'closeloop is not reachable: ' + ((err && (err.status || err.statusText || err.message)) || 'unknown error');
  });
