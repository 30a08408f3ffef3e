<?php
/*
 * Build one WordPress site from a JSON spec (scripts/corpus/wordpress.py writes it), through
 * WordPress's own functions: wp_install, update_option, wp_insert_term, wp_insert_post. Run with
 * the php CLI: php wp_setup.php SPEC.json (HTTP_HOST is the site's host, so Debian's
 * /etc/wordpress/config-HOST.php is the configuration that is loaded).
 */
$spec = json_decode(file_get_contents($argv[1]), true);
$_SERVER['HTTP_HOST'] = $spec['host'];
$_SERVER['SERVER_NAME'] = $spec['host'];
$_SERVER['REQUEST_URI'] = '/';
define('WP_INSTALLING', true);
require_once '/usr/share/wordpress/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
require_once ABSPATH . 'wp-admin/includes/translation-install.php';

$result = wp_install($spec['title'], 'redaktor', 'redaktor@example.se', true, '', 'not-a-real-password-1', $spec['language']);
update_option('siteurl', $spec['origin']);
update_option('home', $spec['origin']);
foreach ($spec['options'] as $name => $value) {
    update_option($name, $value);
}
switch_theme($spec['theme']);

$terms = array();
foreach ($spec['categories'] as $name) {
    $t = wp_insert_term($name, 'category');
    $terms[$name] = is_array($t) ? $t['term_id'] : $t->get_error_data();
}
wp_delete_post(1, true);  // "Hello world!" (translated)
wp_delete_post(2, true);  // the sample page
wp_delete_post(3, true);  // the privacy policy draft

$ids = array();
foreach ($spec['posts'] as $p) {
    $id = wp_insert_post(array(
        'post_title' => $p['title'],
        'post_name' => $p['slug'],
        'post_content' => "<!-- wp:paragraph -->\n<p>" . $p['text'] . "</p>\n<!-- /wp:paragraph -->",
        'post_excerpt' => '',
        'post_status' => 'publish',
        'post_type' => $p['type'],
        'post_author' => 1,
        'post_date' => $p['local'],
        'post_date_gmt' => $p['gmt'],
        'post_category' => $p['type'] === 'post' ? array($terms[$p['category']]) : array(),
        'comment_status' => 'closed',
        'ping_status' => 'closed',
    ), true);
    if (is_wp_error($id)) { fwrite(STDERR, $id->get_error_message() . "\n"); exit(1); }
    $ids[$p['slug']] = $id;
    // Modified times as written: deterministic feeds (lastBuildDate) and validators.
    $wpdb->update($wpdb->posts, array('post_modified' => $p['local'], 'post_modified_gmt' => $p['gmt']), array('ID' => $id));
}
if (!empty($spec['front_page'])) {
    update_option('show_on_front', 'page');
    update_option('page_on_front', $ids[$spec['front_page']]);
    if (!empty($spec['posts_page'])) update_option('page_for_posts', $ids[$spec['posts_page']]);
}
$wpdb->update($wpdb->users, array('user_registered' => '2022-08-01 08:00:00', 'display_name' => 'Redaktionen'), array('ID' => 1));
flush_rewrite_rules(false);
clean_post_cache(0);
wp_cache_flush();
echo json_encode($ids), "\n";
